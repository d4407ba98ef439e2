/**
 * Token hygiene: what kind of Slack token a value is, told from its prefix alone, and a check that names
 * the variable holding a wrong token without ever echoing its value.
 *
 * Tokens enter a process from two places only: the environment (`SLACK_BOT_TOKEN`, `SLACK_USER_TOKEN`) and
 * an installation store. Never from code or command-line flags (they land in shell history and `ps`).
 *
 * @see https://docs.slack.dev/authentication/tokens
 */
import { ConfigError } from "./errors.js";

/**
 * The kind of a Slack token, by prefix (slack-protocol.md §9).
 *
 * - `bot` `xoxb-`, `user` `xoxp-`: long-lived tokens;
 * - `rotating-bot` `xoxe.xoxb-`, `rotating-user` `xoxe.xoxp-`: expiring tokens of an app with token rotation;
 * - `refresh` `xoxe-`: renews a rotating token, cannot call the Web API;
 * - `app` `xapp-`: app-level token (Socket Mode, `apps.connections.open`), cannot act in a workspace;
 * - `workflow` `xwfp-`, `legacy-workspace` `xoxa-`, `other-slack` (`xoxc-`, `xoxs-`, `xoxr-`, …);
 * - `empty`, `not-a-token`: no Slack token at all.
 *
 * @example
 * ```ts
 * const kind: TokenKind = tokenKind(process.env.SLACK_BOT_TOKEN ?? ""); // "bot"
 * ```
 */
export type TokenKind =
  | "bot"
  | "user"
  | "rotating-bot"
  | "rotating-user"
  | "refresh"
  | "app"
  | "workflow"
  | "legacy-workspace"
  | "other-slack"
  | "empty"
  | "not-a-token";

/**
 * How each {@link TokenKind} is named in messages: a phrase with the prefix, never any of the token's own
 * characters. Prefixes are written so that the redaction helper leaves them alone (`xoxe-`, not `xoxe-1-`).
 *
 * @example
 * ```ts
 * TOKEN_KIND_NAMES.user; // "a user token (xoxp-)"
 * ```
 */
export const TOKEN_KIND_NAMES: Readonly<Record<TokenKind, string>> = {
  bot: "a bot token (xoxb-)",
  user: "a user token (xoxp-)",
  "rotating-bot": "a rotating bot token (xoxe.xoxb-)",
  "rotating-user": "a rotating user token (xoxe.xoxp-)",
  refresh: "a refresh token (xoxe-)",
  app: "an app-level token (xapp-)",
  workflow: "a workflow token (xwfp-)",
  "legacy-workspace": "a legacy workspace-app token (xoxa-)",
  "other-slack": "a Slack token of another kind (not a bot or user token)",
  empty: "an empty value",
  "not-a-token": "not a Slack token",
};

// Body of a token after its prefix: Slack tokens are letters, digits and dashes.
const BODY = "[A-Za-z0-9][A-Za-z0-9-]*";
const KIND_RES: ReadonlyArray<[TokenKind, RegExp]> = [
  ["rotating-bot", new RegExp(`^xoxe\\.xoxb-${BODY}$`)],
  ["rotating-user", new RegExp(`^xoxe\\.xoxp-${BODY}$`)],
  ["refresh", new RegExp(`^xoxe-${BODY}$`)],
  ["bot", new RegExp(`^xoxb-${BODY}$`)],
  ["user", new RegExp(`^xoxp-${BODY}$`)],
  ["app", new RegExp(`^xapp-${BODY}$`)],
  ["workflow", new RegExp(`^xwfp-${BODY}$`)],
  ["legacy-workspace", new RegExp(`^xoxa-${BODY}$`)],
  ["other-slack", new RegExp(`^xox[a-z](?:\\.xox[a-z])?-${BODY}$`)],
];

/**
 * Tells a token's kind from its prefix and character set (no network call). Surrounding whitespace is
 * ignored; anything else that is not token-shaped (quotes, inner spaces, a truncated prefix) is
 * `not-a-token`.
 *
 * @example
 * ```ts
 * tokenKind("xoxe.xoxb-1-abc"); // "rotating-bot"
 * tokenKind('"xoxb-1-abc"');    // "not-a-token" (quoted)
 * ```
 * @see https://docs.slack.dev/authentication/tokens
 */
export function tokenKind(value: string | undefined | null): TokenKind {
  const v = typeof value === "string" ? value.trim() : "";
  if (v === "") return "empty";
  for (const [kind, re] of KIND_RES) if (re.test(v)) return kind;
  return "not-a-token";
}

/** True when `value` has the shape of any Slack token (for "a token was pasted into the wrong variable"). */
export function looksLikeSlackToken(value: string | undefined | null): boolean {
  const kind = tokenKind(value);
  return kind !== "empty" && kind !== "not-a-token";
}

/**
 * A token is missing, or of the wrong kind, where it is used. The message names the variable (or option)
 * and the kind found, never the value.
 *
 * @example
 * ```ts
 * try {
 *   checkTokenKind(process.env.SLACK_BOT_TOKEN, "bot", "SLACK_BOT_TOKEN");
 * } catch (e) {
 *   if (e instanceof TokenKindError) console.error(e.message, e.variable, e.found);
 * }
 * ```
 */
export class TokenKindError extends ConfigError {
  /** The environment variable or option that holds the token. */
  readonly variable: string;
  /** The kind found there. */
  readonly found: TokenKind;
  /** The kinds accepted there. */
  readonly expected: readonly TokenKind[];
  constructor(variable: string, found: TokenKind, expected: readonly TokenKind[], message: string) {
    super(message);
    this.variable = variable;
    this.found = found;
    this.expected = expected;
  }
}

/** Why a kind is wrong where a bot or user token is expected, and what to do instead. */
function advice(found: TokenKind, expected: readonly TokenKind[], raw: string): string {
  const wantsBot = expected.includes("bot");
  const wantsUser = expected.includes("user");
  const page = "your app's OAuth & Permissions page (https://api.slack.com/apps)";
  switch (found) {
    case "user":
      if (wantsBot) return `Copy the "Bot User OAuth Token" (xoxb-) from ${page}, not the User OAuth Token.`;
      break;
    case "bot":
      if (wantsUser) return `Copy the "User OAuth Token" (xoxp-) from ${page}, not the Bot User OAuth Token.`;
      break;
    case "app":
      return "App-level tokens only open Socket Mode connections; they cannot act in a workspace.";
    case "refresh":
      return "A refresh token cannot call Slack: it only renews a rotating token, and is stored with the installation, never in this variable.";
    case "rotating-bot":
    case "rotating-user":
      return "Rotating tokens expire after 12 hours and can only be renewed with the app's client id and client secret. Turn token rotation off for this app, or install it through OAuth (SLACK_CLIENT_ID) so that tokens are refreshed for you.";
    case "empty":
      return "Set it in the environment (or an .env file kept out of version control).";
    case "not-a-token":
      if (/^\s*["'`]/.test(raw)) return "The value is wrapped in quotes: remove them.";
      if (/\s/.test(raw.trim())) return "The value contains whitespace: it was probably pasted incompletely.";
      return "Slack tokens start with xoxb- (bot) or xoxp- (user); check that the whole token was copied.";
    default:
      break;
  }
  return wantsBot ? `Copy the "Bot User OAuth Token" (xoxb-) from ${page}.` : `Copy the token from ${page}.`;
}

/**
 * Checks that a token has an accepted kind where it is used, and returns it trimmed. Throws
 * {@link TokenKindError} naming `variable` and the kind found — never the value, nor any part of it.
 *
 * @param value the token, as read from the environment or a store
 * @param expected the accepted kind(s), e.g. `"bot"` for `SLACK_BOT_TOKEN`
 * @param variable the environment variable (or option) name, for the message
 * @example
 * ```ts
 * const botToken = checkTokenKind(process.env.SLACK_BOT_TOKEN, "bot", "SLACK_BOT_TOKEN");
 * const userToken = process.env.SLACK_USER_TOKEN
 *   ? checkTokenKind(process.env.SLACK_USER_TOKEN, "user", "SLACK_USER_TOKEN")
 *   : undefined;
 * ```
 * @see https://docs.slack.dev/authentication/tokens
 */
export function checkTokenKind(
  value: string | undefined | null,
  expected: TokenKind | readonly TokenKind[],
  variable: string,
): string {
  const accepted: readonly TokenKind[] = typeof expected === "string" ? [expected] : expected;
  const found = tokenKind(value);
  if (accepted.includes(found)) return (value ?? "").trim();
  const raw = typeof value === "string" ? value : "";
  const wanted = accepted.map((k) => TOKEN_KIND_NAMES[k]).join(" or ");
  const what =
    found === "empty"
      ? `${variable} is empty`
      : found === "not-a-token"
        ? `${variable} is not a Slack token (a ${raw.trim().length}-character value)`
        : `${variable} holds ${TOKEN_KIND_NAMES[found]}`;
  throw new TokenKindError(
    variable,
    found,
    accepted,
    `${what}, but ${wanted} is needed there. ${advice(found, accepted, raw)}`,
  );
}
