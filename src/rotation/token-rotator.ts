/**
 * {@link TokenRotator}: refreshes the rotating tokens of an installation that expire soon. It holds no
 * state and no lock: across requests and processes, {@link RotationCoordinator} (and `authorize` with
 * `rotation`) serialise it per token.
 */

import { rejectRenamedClock } from "../clock.js";
import { ConfigError, InvalidResponseError } from "../errors.js";
import { applyRefreshResponse, parseScopes } from "../model/index.js";
import type { Bot, Installation } from "../model/installation.js";
import { type Logger, registerSecret, silentLogger } from "../redact.js";
import { SlackApiClient } from "../slack-api/client.js";
import type { TokenPatch } from "../stores/installation-store.js";
import { type TokenFamily, type TokenOwner, TokenRefreshError } from "./errors.js";

/** Default refresh window: tokens that expire within 2 hours are refreshed. */
export const DEFAULT_ROTATION_WINDOW_SECONDS = 7200;

/**
 * Options of {@link TokenRotator}.
 *
 * @example
 * ```ts
 * const options: TokenRotatorOptions = { clientId, clientSecret, apiUrl: process.env.SLACK_API_URL, windowSeconds: 3600 };
 * ```
 */
export interface TokenRotatorOptions {
  clientId: string;
  clientSecret: string;
  /** The Web API client (default: a new `SlackApiClient` on `apiUrl`). */
  api?: SlackApiClient | undefined;
  /**
   * Web API base URL when `api` is not given.
   *
   * @default `https://slack.com/api/`
   */
  apiUrl?: string | undefined;
  /**
   * Refresh tokens expiring within this many seconds. Slack's tokens live 12 h.
   *
   * @default 7200, i.e. 2 h
   */
  windowSeconds?: number | undefined;
  /**
   * Clock in epoch ms.
   *
   * @default `Date.now`
   */
  nowMs?: (() => number) | undefined;
  /** Where refreshes are reported (redacted). Default: silent. */
  logger?: Logger | undefined;
}

/**
 * One token that was refreshed (or converted): the new values and the {@link TokenPatch} that stores
 * them. Holds secrets: never log it.
 *
 * @example
 * ```ts
 * const r: RefreshedToken = await rotator.refreshToken("bot", installation.botRefreshToken!);
 * await store.updateTokens?.(query, r.patch, { botRefreshToken: installation.botRefreshToken! });
 * ```
 */
export interface RefreshedToken {
  kind: TokenFamily;
  token: string;
  /** The next refresh token (the one used is now spent). */
  refreshToken: string | undefined;
  /** Epoch seconds, when Slack said (`expires_in`). */
  expiresAt: number | undefined;
  scopes: string[];
  /** The store fields to write: the new token, refresh token, expiry and (when Slack sent them) scopes. */
  patch: TokenPatch;
  /** Slack's reply (holds the tokens). */
  reply: Record<string, unknown>;
}

/**
 * Refreshes rotating Slack tokens (`oauth.v2.access` with `grant_type=refresh_token`) that expire within
 * a window, bot and user in parallel, and converts long-lived ones (`oauth.v2.exchange`). Failures are
 * {@link TokenRefreshError}s, never swallowed.
 *
 * A refresh token is single-use: never call this twice at once for one installation. `authorize` with
 * `rotation` and the `rotate` CLI go through {@link RotationCoordinator}, which serialises refreshes
 * per token within the process and, through the store's lock, across processes.
 *
 * @example
 * ```ts
 * import { TokenRotator } from "slack-oauth-kit";
 * const rotator = new TokenRotator({ clientId, clientSecret });
 * const fresh = await rotator.rotate(installation); // refreshes what expires within 2 h
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export class TokenRotator {
  readonly clientId: string;
  readonly api: SlackApiClient;
  readonly windowSeconds: number;
  readonly #clientSecret: string;
  readonly #now: () => number;
  readonly #logger: Logger;

  constructor(options: TokenRotatorOptions) {
    rejectRenamedClock(options, "TokenRotator", { now: "nowMs" });
    if (options === null || typeof options !== "object") throw new ConfigError("TokenRotator: options are required");
    if (typeof options.clientId !== "string" || options.clientId.length === 0)
      throw new ConfigError("TokenRotator: clientId is required");
    if (typeof options.clientSecret !== "string" || options.clientSecret.length === 0)
      throw new ConfigError("TokenRotator: clientSecret is required");
    const window = options.windowSeconds ?? DEFAULT_ROTATION_WINDOW_SECONDS;
    if (typeof window !== "number" || !Number.isFinite(window) || window < 0)
      throw new ConfigError("TokenRotator: windowSeconds must be a non-negative number of seconds");
    registerSecret(options.clientSecret);
    this.clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.api = options.api ?? new SlackApiClient({ baseUrl: options.apiUrl });
    this.windowSeconds = window;
    this.#now = options.nowMs ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Now, in epoch seconds. */
  nowSeconds(): number {
    return this.#now() / 1000;
  }

  /**
   * True when a token with this expiry must be refreshed now: it expires within `windowSeconds`
   * (expired ones included). `undefined` (a long-lived token) never expires.
   *
   * @example
   * ```ts
   * rotator.expiresWithin(installation.botTokenExpiresAt); // true within 2 h of expiry
   * ```
   */
  expiresWithin(expiresAt: number | undefined, windowSeconds: number = this.windowSeconds): boolean {
    return expiresAt !== undefined && expiresAt - this.nowSeconds() <= windowSeconds;
  }

  /**
   * True when a token with this expiry is still usable for at least `marginSeconds` (default 0).
   *
   * @example
   * ```ts
   * if (!rotator.isValid(bot.botTokenExpiresAt, 60)) throw new Error("expired");
   * ```
   */
  isValid(expiresAt: number | undefined, marginSeconds = 0): boolean {
    return expiresAt === undefined || expiresAt - this.nowSeconds() > marginSeconds;
  }

  /**
   * Which tokens of an installation (or bot) need refreshing: those with a refresh token that expire
   * within the window.
   *
   * @example
   * ```ts
   * const { bot, user } = rotator.expiring(installation);
   * ```
   */
  expiring(
    installation: Installation | Bot,
    windowSeconds: number = this.windowSeconds,
  ): { bot: boolean; user: boolean } {
    const i = installation as Partial<Installation>;
    return {
      bot:
        i.botToken !== undefined &&
        i.botRefreshToken !== undefined &&
        this.expiresWithin(i.botTokenExpiresAt, windowSeconds),
      user:
        i.userToken !== undefined &&
        i.userRefreshToken !== undefined &&
        this.expiresWithin(i.userTokenExpiresAt, windowSeconds),
    };
  }

  /**
   * Refreshes one token with its refresh token. The refresh token is spent once Slack answers: store the
   * result (`patch`) before anything else. Throws {@link TokenRefreshError}.
   *
   * @example
   * ```ts
   * const r = await rotator.refreshToken("user", installation.userRefreshToken!, { teamId, userId });
   * ```
   */
  async refreshToken(kind: TokenFamily, refreshToken: string, owner: TokenOwner = {}): Promise<RefreshedToken> {
    let reply: Record<string, unknown>;
    try {
      if (typeof refreshToken !== "string" || refreshToken.length === 0) {
        throw new TokenRefreshError({ ...owner, kind, reason: "no_refresh_token" });
      }
      reply = (await this.api.oauthV2Refresh({
        clientId: this.clientId,
        clientSecret: this.#clientSecret,
        refreshToken,
      })) as unknown as Record<string, unknown>;
    } catch (error) {
      const e = TokenRefreshError.from(error, { ...owner, kind });
      this.#logger.warn(e.message);
      throw e;
    }
    return this.#parse(kind, reply, owner, "refresh");
  }

  /**
   * Converts a long-lived `xoxb-`/`xoxp-` token into a rotating one with `oauth.v2.exchange` (once per
   * token, after turning rotation on in the app's settings). Throws {@link TokenRefreshError}
   * (`operation: "exchange"`).
   *
   * @example
   * ```ts
   * const r = await rotator.exchange("bot", installation.botToken!, { teamId });
   * ```
   * @see https://docs.slack.dev/reference/methods/oauth.v2.exchange
   */
  async exchange(kind: TokenFamily, token: string, owner: TokenOwner = {}): Promise<RefreshedToken> {
    let reply: Record<string, unknown>;
    try {
      reply = (await this.api.oauthV2Exchange({
        clientId: this.clientId,
        clientSecret: this.#clientSecret,
        token,
      })) as unknown as Record<string, unknown>;
    } catch (error) {
      const e = TokenRefreshError.from(error, { ...owner, kind, operation: "exchange" });
      this.#logger.warn(e.message);
      throw e;
    }
    return this.#parse(kind, reply, owner, "exchange");
  }

  /**
   * Refreshes the tokens of `installation` that expire within the window (bot and user in parallel) and
   * returns the updated installation; only the refreshed tokens' fields change. With `force`, refreshes
   * every token that has a refresh token.
   *
   * When a refresh fails this throws {@link TokenRefreshError}; if the other token did refresh, the
   * error's `partial` holds the installation with it applied — store it, its old refresh token is spent.
   *
   * @example
   * ```ts
   * const fresh = await rotator.rotate(installation);
   * if (fresh !== installation) await store.save(fresh);
   * ```
   */
  async rotate(
    installation: Installation,
    options: { windowSeconds?: number | undefined; force?: boolean | undefined } = {},
  ): Promise<Installation> {
    const due = options.force
      ? { bot: installation.botRefreshToken !== undefined, user: installation.userRefreshToken !== undefined }
      : this.expiring(installation, options.windowSeconds);
    const owner: TokenOwner = {
      enterpriseId: installation.enterpriseId,
      teamId: installation.teamId,
      userId: installation.userId,
    };
    const jobs: Promise<RefreshedToken>[] = [];
    if (due.bot) jobs.push(this.refreshToken("bot", installation.botRefreshToken as string, owner));
    if (due.user) jobs.push(this.refreshToken("user", installation.userRefreshToken as string, owner));
    if (jobs.length === 0) return installation;
    const settled = await Promise.allSettled(jobs);
    let next = installation;
    const failures: TokenRefreshError[] = [];
    const now = this.nowSeconds();
    for (const s of settled) {
      if (s.status === "fulfilled") next = applyRefreshResponse(next, s.value.reply, { nowSeconds: () => now });
      else failures.push(TokenRefreshError.from(s.reason, { ...owner, kind: "bot" }));
    }
    const [first] = failures;
    if (first === undefined) return next;
    throw new TokenRefreshError({
      kind: first.kind,
      reason: first.reason,
      slackError: first.slackError,
      enterpriseId: first.enterpriseId,
      teamId: first.teamId,
      userId: first.userId,
      partial: next === installation ? undefined : next,
      errors: failures.length > 1 ? failures : undefined,
      cause: first.cause,
    });
  }

  #parse(
    kind: TokenFamily,
    reply: Record<string, unknown>,
    owner: TokenOwner,
    operation: "refresh" | "exchange",
  ): RefreshedToken {
    const fail = (message: string) => {
      const e = TokenRefreshError.from(new InvalidResponseError(message), { ...owner, kind, operation });
      this.#logger.warn(e.message);
      return e;
    };
    const token = typeof reply.access_token === "string" && reply.access_token !== "" ? reply.access_token : undefined;
    if (token === undefined)
      throw fail(`oauth.v2.${operation === "refresh" ? "access" : "exchange"} reply has no access_token`);
    const type = reply.token_type;
    if ((type === "bot" || type === "user") && type !== kind)
      throw fail(`asked for a ${kind} token, Slack returned a ${type} token`);
    const refreshToken =
      typeof reply.refresh_token === "string" && reply.refresh_token !== "" ? reply.refresh_token : undefined;
    const expiresIn =
      typeof reply.expires_in === "number" && Number.isFinite(reply.expires_in) ? reply.expires_in : undefined;
    const expiresAt = expiresIn === undefined ? undefined : Math.floor(this.nowSeconds()) + expiresIn;
    const scopes = parseScopes(reply.scope);
    const patch: TokenPatch = {};
    if (kind === "bot") {
      patch.botToken = token;
      if (refreshToken !== undefined) patch.botRefreshToken = refreshToken;
      if (expiresAt !== undefined) patch.botTokenExpiresAt = expiresAt;
      if (scopes.length > 0) patch.botScopes = scopes;
    } else {
      patch.userToken = token;
      if (refreshToken !== undefined) patch.userRefreshToken = refreshToken;
      if (expiresAt !== undefined) patch.userTokenExpiresAt = expiresAt;
      if (scopes.length > 0) patch.userScopes = scopes;
    }
    this.#logger.debug(
      `${operation === "refresh" ? "refreshed" : "converted"} the ${kind} token of ${owner.teamId ?? owner.enterpriseId ?? "?"}`,
    );
    return { kind, token, refreshToken, expiresAt, scopes, patch, reply };
  }
}
