import { ConfigError, ErrorCode, InvalidArgumentError, SlackOAuthError, StoreError } from "../errors.js";
import type { Bot, Installation } from "../model/installation.js";
import { type BotQuery, type InstallationStore, isValidId } from "../stores/installation-store.js";
import type { AuthorizeContext } from "./context.js";

/**
 * What a request handler needs to call Slack on behalf of an installation.
 *
 * @example
 * ```ts
 * const { botToken, userToken } = await authorize(context);
 * const token = userToken ?? botToken; // act as the user when they granted user scopes
 * ```
 */
export interface AuthorizeResult {
  enterpriseId?: string | undefined;
  /** The request's workspace (for org-wide installs: the workspace the request came from). */
  teamId?: string | undefined;
  /** The requesting user, when the request names one. */
  userId?: string | undefined;
  isEnterpriseInstall: boolean;
  appId?: string | undefined;
  /** The workspace's (or org's) bot token; absent for user-token-only installs. */
  botToken?: string | undefined;
  botId?: string | undefined;
  botUserId?: string | undefined;
  botScopes: string[];
  /** Epoch seconds at which `botToken` expires (token rotation). */
  botTokenExpiresAt?: number | undefined;
  /** The requesting user's own token, only when that very user installed with user scopes. */
  userToken?: string | undefined;
  userScopes: string[];
  /** Epoch seconds at which `userToken` expires (token rotation). */
  userTokenExpiresAt?: number | undefined;
}

/**
 * No installation matches the request: the app is not installed there, was uninstalled, or the request
 * names no workspace a store could hold. Distinct from `StoreError` (the store failed: try again later).
 *
 * @example
 * ```ts
 * try {
 *   await authorize(context);
 * } catch (e) {
 *   if (e instanceof NotInstalledError) return "Please install this app first!";
 *   throw e;
 * }
 * ```
 */
export class NotInstalledError extends SlackOAuthError {
  constructor(message = "The app is not installed on this workspace") {
    super(ErrorCode.NotInstalled, message, { status: 404 });
  }
}

/**
 * Options of {@link createAuthorize}.
 *
 * @example
 * ```ts
 * const options: AuthorizeOptions = { installationStore: new CachingInstallationStore(store) };
 * ```
 */
export interface AuthorizeOptions {
  /**
   * Where installations live. Wrap it in `CachingInstallationStore` for the hot path, and give the very
   * same object to the events handler so that uninstalls drop the cached tokens.
   */
  installationStore: InstallationStore;
}

/**
 * Looks up the tokens for a request context.
 *
 * @example
 * ```ts
 * const authorize: AuthorizeFn = createAuthorize({ installationStore: store });
 * ```
 */
export type AuthorizeFn = (context: AuthorizeContext) => Promise<AuthorizeResult>;

/**
 * Builds `authorize(context)`: finds the installation for a request's enterprise / team / user and returns
 * its bot token, and the user's own token when that user installed with user scopes (another user of the
 * same workspace gets the bot token only). Org-wide installs are found by `enterpriseId` for any `teamId`
 * when `isEnterpriseInstall` is true.
 *
 * Throws {@link NotInstalledError} when nothing matches (including contexts no store could match: no
 * team and no enterprise, malformed ids) and `StoreError` (with the store's error as `cause`) when the
 * store fails — never confuse the two: the first means "ask to install", the second "try again".
 *
 * @example
 * ```ts
 * const authorize = createAuthorize({ installationStore: new CachingInstallationStore(store) });
 * const { botToken } = await authorize({ teamId: "T0123", userId: "U0123", isEnterpriseInstall: false });
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export function createAuthorize(options: AuthorizeOptions): AuthorizeFn {
  const store = options?.installationStore;
  if (store === null || typeof store !== "object" || typeof store.findBot !== "function") {
    throw new ConfigError("createAuthorize: installationStore is required");
  }
  return async (context) => {
    if (context === null || typeof context !== "object") {
      throw new InvalidArgumentError(
        "authorize: expected a context { enterpriseId?, teamId?, userId?, isEnterpriseInstall }",
      );
    }
    const query = lookupQuery(context);
    if (query === undefined) {
      throw new NotInstalledError("The app is not installed here: the request names no workspace or org");
    }
    // A user id no store would accept cannot have an installation of its own: look up the bot only.
    const userId = isValidId(context.userId) ? context.userId : undefined;
    let bot: Bot | undefined;
    let mine: Installation | undefined;
    try {
      [bot, mine] = await Promise.all([
        store.findBot(query),
        userId !== undefined ? store.findInstallation({ ...query, userId }) : undefined,
      ]);
    } catch (error) {
      if (error instanceof StoreError || error instanceof InvalidArgumentError) throw error;
      throw new StoreError("authorize: the installation store failed", { cause: error });
    }
    // Only the requesting user's own installation gives a user token (stores answer per user, but a
    // custom store falling back to "the latest installation" must not hand out someone else's token).
    const own = mine !== undefined && mine.userId === userId && mine.userToken ? mine : undefined;
    if (bot === undefined && own === undefined) throw new NotInstalledError();

    const result: AuthorizeResult = {
      isEnterpriseInstall: query.isEnterpriseInstall === true,
      botScopes: bot ? [...bot.botScopes] : [],
      userScopes: own ? [...own.userScopes] : [],
    };
    const enterpriseId = query.enterpriseId ?? bot?.enterpriseId ?? own?.enterpriseId;
    if (enterpriseId) result.enterpriseId = enterpriseId;
    const teamId = context.teamId || bot?.teamId || own?.teamId;
    if (teamId) result.teamId = teamId;
    if (context.userId) result.userId = context.userId;
    const appId = bot?.appId ?? own?.appId;
    if (appId) result.appId = appId;
    if (bot) {
      result.botToken = bot.botToken;
      if (bot.botId) result.botId = bot.botId;
      if (bot.botUserId) result.botUserId = bot.botUserId;
      if (bot.botTokenExpiresAt !== undefined) result.botTokenExpiresAt = bot.botTokenExpiresAt;
    }
    if (own?.userToken) {
      result.userToken = own.userToken;
      if (own.userTokenExpiresAt !== undefined) result.userTokenExpiresAt = own.userTokenExpiresAt;
    }
    return result;
  };
}

/**
 * The store query for a context, or `undefined` when no installation can match it: no team and no
 * enterprise, an org-wide context without its org, or ids that no store accepts (stores validate ids on
 * save, so such an installation cannot exist). Contexts come from request payloads: "not installed" is
 * the right answer for them, not a bad-argument error.
 */
function lookupQuery(context: AuthorizeContext): BotQuery | undefined {
  const enterpriseId = context.enterpriseId || undefined;
  const teamId = context.teamId || undefined;
  if (enterpriseId !== undefined && !isValidId(enterpriseId)) return undefined;
  // Org-wide: the org alone identifies the installation, whatever workspace the request came from. An
  // org without a workspace is looked up the same way (every store reads "no team" as the org).
  if (context.isEnterpriseInstall === true || teamId === undefined) {
    return enterpriseId === undefined ? undefined : { enterpriseId, isEnterpriseInstall: true };
  }
  if (!isValidId(teamId)) return undefined;
  return enterpriseId === undefined
    ? { teamId, isEnterpriseInstall: false }
    : { enterpriseId, teamId, isEnterpriseInstall: false };
}
