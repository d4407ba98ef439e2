/**
 * The one redaction helper. Everything that may reach a log line, an error message or a page
 * passes through {@link redact} first.
 */

// Slack token shapes (slack-protocol.md §9): xoxb-, xoxp-, xoxa-, xoxe.xoxb-, xoxe-1-, xapp-, xwfp-, xoxr, xoxs…
const TOKEN_RE = /\b(?:xox[a-z]?(?:\.xox[a-z])?|xapp|xwfp)-[A-Za-z0-9-]+/g;
// Values of sensitive keys in query strings, form bodies, JSON and headers.
const KV_RE =
  /((?:client_secret|signing_secret|refresh_token|access_token|code_verifier|token|code|secret|password|authorization)["']?\s*[:=]\s*["']?)(?:Basic |Bearer )?[^"'&\s,;}]+/gi;
const BASIC_RE = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._-]{8,}/g;

const extraSecrets = new Set<string>();

/**
 * Registers a secret (client secret, signing secret, encryption key) so that {@link redact}
 * masks it wherever it appears, even without a recognisable shape.
 */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 6) extraSecrets.add(secret);
}

/** Masks a single secret value for display: keeps a short, non-identifying prefix. */
export function maskToken(token: string | undefined): string {
  if (!token) return "";
  const m = /^(xox[a-z]?(?:\.xox[a-z])?-|xapp-|xwfp-|xoxe-\d+-)/.exec(token);
  return `${m ? m[1] : ""}****`;
}

/** Removes every token and secret from a string. */
export function redact(text: string): string {
  let out = text.replace(TOKEN_RE, (t) => maskToken(t));
  out = out.replace(BASIC_RE, "$1 ****");
  out = out.replace(KV_RE, "$1****");
  for (const s of extraSecrets) {
    if (out.includes(s)) out = out.split(s).join("****");
  }
  return out;
}

/** Redacts any value (strings, errors, objects) for logging. */
export function redactValue(value: unknown): string {
  if (typeof value === "string") return redact(value);
  if (value instanceof Error) return redact(`${value.name}: ${value.message}`);
  try {
    return redact(JSON.stringify(value));
  } catch {
    return redact(String(value));
  }
}

/** A minimal logger interface; every built-in logger redacts before writing. */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
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
