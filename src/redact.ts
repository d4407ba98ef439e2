/**
 * The one redaction helper. Everything that may reach a log line, an error message or a page
 * passes through {@link redact} first.
 */

// Slack token shapes (slack-protocol.md §9): xoxb-, xoxp-, xoxa-, xoxe.xoxb-, xoxe-1-, xapp-, xwfp-, xoxr, xoxs…
// No word boundary in front: a token glued to other text is still a token.
const TOKEN_RE = /(?:xox[a-z]?(?:\.xox[a-z])?|xapp|xwfp)-[A-Za-z0-9-]+/g;
// Values of sensitive keys in query strings, form bodies, JSON and headers. The key must start a word
// (`errorCode` is not `code`); the OAuth `code` only counts in its query-string form (`?code=`, `&code=`).
const KV_RE =
  /((?<![A-Za-z0-9_])(?:client_secret|signing_secret|refresh_token|access_token|id_token|code_verifier|token|secret|password|authorization)["']?\s*[:=]\s*["']?)(?:Basic |Bearer )?[^"'&\s,;}]+/gi;
const CODE_RE = /([?&]code=)[^&\s"'#]+/g;
const BASIC_RE = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._-]{8,}/g;

const extraSecrets = new Set<string>();

/**
 * Registers a secret (client secret, signing secret, encryption key) so that {@link redact}
 * masks it wherever it appears, even without a recognisable shape.
 */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 6) extraSecrets.add(secret);
}

/**
 * Masks a single secret value for display to an operator (CLI tables): keeps the token's kind prefix
 * (`xoxb-****`), nothing else. Logs and errors use {@link redact}, whose output never contains `xox`.
 */
export function maskToken(token: string | undefined): string {
  if (!token) return "";
  const m = /^(xoxe\.xox[a-z]-|xoxe-\d+-|xox[a-z]?-|xapp-|xwfp-)/.exec(token);
  return `${m ? m[1] : ""}****`;
}

/** A label naming a token's kind without any of its characters: `[bot-token]`, `[refresh-token]`… */
export function tokenLabel(token: string): string {
  if (token.startsWith("xoxe.xoxb-")) return "[rotating-bot-token]";
  if (token.startsWith("xoxe.xoxp-")) return "[rotating-user-token]";
  if (token.startsWith("xoxe-")) return "[refresh-token]";
  if (token.startsWith("xoxb-")) return "[bot-token]";
  if (token.startsWith("xoxp-")) return "[user-token]";
  if (token.startsWith("xapp-")) return "[app-token]";
  if (token.startsWith("xwfp-")) return "[workflow-token]";
  if (token.startsWith("xoxa-")) return "[legacy-workspace-token]";
  return "[token]";
}

/** Removes every token and secret from a string. The result never contains `xox`. */
export function redact(text: string): string {
  let out = text.replace(TOKEN_RE, tokenLabel);
  out = out.replace(BASIC_RE, "$1 ****");
  out = out.replace(KV_RE, "$1****");
  out = out.replace(CODE_RE, "$1****");
  for (const s of extraSecrets) {
    if (out.includes(s)) out = out.split(s).join("****");
  }
  return out;
}

/** Redacts any value (strings, errors, objects) for logging. */
export function redactValue(value: unknown): string {
  if (typeof value === "string") return redact(value);
  if (value instanceof Error) {
    // Our errors carry a stable code (and an encryption error the key id): both belong in the log line.
    const { code, keyId } = value as { code?: unknown; keyId?: unknown };
    const tags = [
      typeof code === "string" && code.startsWith("SLACK_OAUTH_") ? code : undefined,
      typeof keyId === "string" && /^[A-Za-z0-9_-]{1,32}$/.test(keyId) ? `key id ${keyId}` : undefined,
    ].filter((t) => t !== undefined);
    return redact(`${value.name}${tags.length > 0 ? ` [${tags.join(", ")}]` : ""}: ${value.message}`);
  }
  try {
    return redact(JSON.stringify(value));
  } catch {
    return redact(String(value));
  }
}

/** A minimal logger interface; every built-in logger redacts before writing. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, ...args: unknown[]): void;
  /** Normal operation. */
  info(message: string, ...args: unknown[]): void;
  /** Something unexpected the program recovered from. */
  warn(message: string, ...args: unknown[]): void;
  /** A failure. */
  error(message: string, ...args: unknown[]): void;
}

/** Wraps a logger so that every message and argument is redacted. */
export function redactingLogger(inner: Logger): Logger {
  const wrap =
    (fn: (m: string, ...a: unknown[]) => void) =>
    (message: string, ...args: unknown[]) =>
      fn(redact(message), ...args.map(redactValue));
  return {
    debug: wrap(inner.debug.bind(inner)),
    info: wrap(inner.info.bind(inner)),
    warn: wrap(inner.warn.bind(inner)),
    error: wrap(inner.error.bind(inner)),
  };
}

/** The default logger: console, redacted, debug off unless `SLACK_OAUTH_DEBUG` is set. */
export const consoleLogger: Logger = redactingLogger({
  debug: (m, ...a) => {
    if (process.env.SLACK_OAUTH_DEBUG) console.debug(m, ...a);
  },
  info: (m, ...a) => console.info(m, ...a),
  warn: (m, ...a) => console.warn(m, ...a),
  error: (m, ...a) => console.error(m, ...a),
});

/** A logger that drops everything (tests, libraries embedding us). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
