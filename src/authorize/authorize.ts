import { ErrorCode, SlackOAuthError, StoreError } from "../errors.js";
import type { Installation } from "../model/installation.js";
import type { InstallationStore } from "../stores/installation-store.js";
import type { AuthorizeContext } from "./context.js";

/** What a request handler needs to call Slack on behalf of an installation. */
export interface AuthorizeResult {
  enterpriseId?: string;
  teamId?: string;
  /** The requesting user, when the request names one. */
  userId?: string;
  isEnterpriseInstall: boolean;
  appId?: string;
  botToken?: string;
  botId?: string;
  botUserId?: string;
  botScopes: string[];
  /** The requesting user's own token, when that user installed with user scopes. */
  userToken?: string;
  userScopes: string[];
}

/** No installation matches the request (the app is not installed there, or was uninstalled). */
export class NotInstalledError extends SlackOAuthError {
  constructor(message = "The app is not installed on this workspace") {
    super(ErrorCode.NotInstalled, message, { status: 404 });
  }
}

/** Options of {@link createAuthorize}. */
export interface AuthorizeOptions {
  /** Where installations live; wrap it in `CachingInstallationStore` for the hot path. */
  installationStore: InstallationStore;
}

/** Looks up the tokens for a request context. */
export type AuthorizeFn = (context: AuthorizeContext) => Promise<AuthorizeResult>;

/**
 * Builds `authorize(context)`: finds the installation for a request's enterprise / team / user and returns
 * its bot token (and the user's own token when that user has one). Throws {@link NotInstalledError} when
 * nothing matches and `StoreError` when the store fails — never confuse the two.
 *
 * @example
 * ```ts
 * const authorize = createAuthorize({ installationStore: new CachingInstallationStore(store) });
 * const { botToken } = await authorize({ teamId: "T0123", userId: "U0123", isEnterpriseInstall: false });
 * ```
 */
export function createAuthorize(options: AuthorizeOptions): AuthorizeFn {
  const store = options.installationStore;
  return async (context) => {
    const base = {
      enterpriseId: context.enterpriseId,
      teamId: context.teamId,
      isEnterpriseInstall: context.isEnterpriseInstall,
    };
    let bot: Awaited<ReturnType<InstallationStore["findBot"]>>;
    let mine: Installation | undefined;
    try {
      // The bot (latest bot of the workspace) and, when the request names a user, that user's own install.
      [bot, mine] = await Promise.all([
        store.findBot(base),
        context.userId ? store.findInstallation({ ...base, userId: context.userId }) : Promise.resolve(undefined),
      ]);
    } catch (error) {
      if (error instanceof SlackOAuthError && error.code === ErrorCode.InvalidArgument) throw error;
      throw error instanceof StoreError
        ? error
        : new StoreError("authorize: the installation store failed", { cause: error });
    }
    if (!bot && !mine?.userToken) throw new NotInstalledError();
    const result: AuthorizeResult = {
      isEnterpriseInstall: context.isEnterpriseInstall,
      botScopes: bot ? [...bot.botScopes] : [],
      userScopes: mine?.userToken ? [...mine.userScopes] : [],
    };
    const enterpriseId = context.enterpriseId ?? bot?.enterpriseId ?? mine?.enterpriseId;
    if (enterpriseId) result.enterpriseId = enterpriseId;
    const teamId = context.teamId ?? bot?.teamId ?? mine?.teamId;
    if (teamId) result.teamId = teamId;
    if (context.userId) result.userId = context.userId;
    const appId = bot?.appId ?? mine?.appId;
    if (appId) result.appId = appId;
    if (bot) {
      result.botToken = bot.botToken;
      if (bot.botId) result.botId = bot.botId;
      if (bot.botUserId) result.botUserId = bot.botUserId;
    }
    if (mine?.userToken && mine.userId === context.userId) result.userToken = mine.userToken;
    return result;
  };
}
