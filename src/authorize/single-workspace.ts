/**
 * Single-workspace mode: an app used in one workspace needs no OAuth flow, just a bot token from the
 * environment. This source checks the token once with `auth.test` (learning the team, enterprise, bot id
 * and bot user id), seeds an in-memory installation store with it through the ordinary `save` path, and
 * answers `authorize` for that workspace only.
 *
 * Because the token lives in an ordinary {@link InstallationStore}, the events handler's uninstall
 * clean-up applies unchanged: after `app_uninstalled` (or `tokens_revoked` for the bot) the store forgets
 * the token and `authorize` answers {@link NotInstalledError} ("Please install this app first!") until
 * the process restarts with a new token. A restart with the revoked token fails at `auth.test`.
 *
 * @see https://docs.slack.dev/authentication/tokens
 */
import { ConfigError, ErrorCode, InvalidArgumentError, SlackOAuthError } from "../errors.js";
import type { Installation } from "../model/installation.js";
import { type Logger, redactValue, silentLogger } from "../redact.js";
import { SlackApiClient } from "../slack-api/client.js";
import { SlackApiError } from "../slack-api/errors.js";
import type { InstallationStore } from "../stores/installation-store.js";
import { MemoryInstallationStore } from "../stores/memory.js";
import { checkTokenKind } from "../tokens.js";
import { type AuthorizeFn, createAuthorize, NotInstalledError } from "./authorize.js";

/**
 * What `auth.test` answers for a token (the fields this source reads; `SlackApiClient.authTest` fits).
 *
 * @example
 * ```ts
 * const reply: SingleWorkspaceAuthTestReply = { team_id: "T0123", user_id: "U0BOT", bot_id: "B0123" };
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.test
 */
export interface SingleWorkspaceAuthTestReply {
  team_id?: string | undefined;
  team?: string | undefined;
  user_id?: string | undefined;
  bot_id?: string | undefined;
  enterprise_id?: string | undefined;
  is_enterprise_install?: boolean | undefined;
  app_id?: string | undefined;
  url?: string | undefined;
}

/**
 * The Web API call the source makes (satisfied by `SlackApiClient`).
 *
 * @example
 * ```ts
 * const api: SingleWorkspaceApi = new SlackApiClient({ baseUrl: process.env.SLACK_API_URL });
 * ```
 */
export interface SingleWorkspaceApi {
  /** Calls `auth.test` with the token (who the token belongs to). */
  authTest(token: string): Promise<SingleWorkspaceAuthTestReply>;
}

/**
 * Options of {@link createSingleWorkspaceAuthorize}. Tokens come from the environment (never from code or
 * command-line flags).
 *
 * @example
 * ```ts
 * const options: SingleWorkspaceOptions = {
 *   botToken: process.env.SLACK_BOT_TOKEN,
 *   userToken: process.env.SLACK_USER_TOKEN,
 * };
 * ```
 */
export interface SingleWorkspaceOptions {
  /** The workspace's bot token (`xoxb-`), usually `process.env.SLACK_BOT_TOKEN`. */
  botToken: string | undefined;
  /**
   * Optional user token (`xoxp-`) of one user of the same workspace, usually `process.env.SLACK_USER_TOKEN`.
   * Like a user token from an OAuth install, `authorize` hands it out only for requests made by that
   * user (other users get the bot token only).
   */
  userToken?: string | undefined;
  /**
   * The Web API client for `auth.test`.
   *
   * @default a `SlackApiClient` on `https://slack.com/api/`
   */
  api?: SingleWorkspaceApi | undefined;
  /**
   * The store to seed (default a new `MemoryInstallationStore`, so the token is never written anywhere).
   * Give the same object to the events handler so that uninstalls reach it.
   */
  installationStore?: InstallationStore | undefined;
  /**
   * Names used in error messages.
   *
   * @default `SLACK_BOT_TOKEN` and `SLACK_USER_TOKEN`
   */
  variableNames?: { botToken?: string | undefined; userToken?: string | undefined } | undefined;
  /** Where the outcome of the check is reported (redacted). Default: silent. */
  logger?: Logger | undefined;
}

/**
 * Who the token belongs to, as `auth.test` reported it (no token in here).
 *
 * @example
 * ```ts
 * const { teamId, botId }: SingleWorkspaceIdentity = source.workspace;
 * ```
 */
export interface SingleWorkspaceIdentity {
  teamId?: string | undefined;
  teamName?: string | undefined;
  enterpriseId?: string | undefined;
  /** True when the bot token is an org-wide (Enterprise Grid) installation's. */
  isEnterpriseInstall: boolean;
  appId?: string | undefined;
  botId: string;
  botUserId: string;
  /** The owner of `userToken`, when one was given. */
  userId?: string | undefined;
  /** The workspace (or org) URL. */
  url?: string | undefined;
}

/**
 * The single-workspace source: an `authorize` function for the one workspace, and the store it reads.
 *
 * @example
 * ```ts
 * const { authorize, installationStore, workspace } = await createSingleWorkspaceAuthorize({
 *   botToken: process.env.SLACK_BOT_TOKEN,
 * });
 * ```
 */
export interface SingleWorkspaceAuthorize {
  /**
   * Answers for the configured workspace (or org) only; {@link NotInstalledError} for every other one,
   * and for this one too once an uninstall or revocation has removed the token from the store.
   */
  authorize: AuthorizeFn;
  /** The store holding the token: pass it to the events handler so that uninstalls apply. */
  installationStore: InstallationStore;
  /** Who the token belongs to. */
  workspace: SingleWorkspaceIdentity;
}

/**
 * `auth.test` refused a configured token (revoked, invalid, expired, deactivated account). The message
 * names the variable and Slack's error code, never the token.
 *
 * @example
 * ```ts
 * try {
 *   await createSingleWorkspaceAuthorize({ botToken: process.env.SLACK_BOT_TOKEN });
 * } catch (e) {
 *   if (e instanceof TokenRejectedError) console.error(`${e.variable}: ${e.slackError}`);
 * }
 * ```
 */
export class TokenRejectedError extends ConfigError {
  /** The variable (or option) holding the refused token. */
  readonly variable: string;
  /** Slack's error code, e.g. `token_revoked`. */
  readonly slackError: string;
  constructor(variable: string, slackError: string, options?: { cause?: unknown }) {
    super(`${variable} was refused by Slack (auth.test: ${slackError}): ${explain(slackError)}`, options);
    this.variable = variable;
    this.slackError = slackError;
  }
}

function explain(error: string): string {
  switch (error) {
    case "token_revoked":
      return "the token has been revoked, or the app was uninstalled from the workspace. Reinstall the app (your app's settings → Install App) and put the new token in the environment.";
    case "invalid_auth":
    case "not_authed":
      return "Slack does not know this token (mistyped, truncated, or from a deleted app). Copy it again from your app's OAuth & Permissions page.";
    case "account_inactive":
      return "the token belongs to a deactivated user or a deleted workspace. Reinstall the app and use the new token.";
    case "token_expired":
      return "the token has expired (token rotation). Turn rotation off for a single-workspace app, or install it through OAuth.";
    default:
      return "check the token on your app's OAuth & Permissions page.";
  }
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

async function check(api: SingleWorkspaceApi, token: string, variable: string): Promise<SingleWorkspaceAuthTestReply> {
  try {
    const reply = await api.authTest(token);
    if (reply === null || typeof reply !== "object") throw new ConfigError(`${variable}: auth.test gave no reply`);
    return reply;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof SlackApiError && error.error !== "ratelimited" && error.httpStatus < 500) {
      throw new TokenRejectedError(variable, error.error, { cause: error });
    }
    // Not a configuration problem (Slack unreachable, rate limited, 5xx): worth retrying as is.
    throw new SlackOAuthError(
      error instanceof SlackOAuthError ? error.code : ErrorCode.Network,
      `${variable} could not be checked with Slack's auth.test: ${redactValue(error)}`,
      { cause: error },
    );
  }
}

/**
 * Builds the single-workspace `authorize` source: checks each token's kind by prefix, calls `auth.test`
 * with it (a refused token stops here with {@link TokenRejectedError}), saves one installation into an
 * in-memory store, and returns an `authorize` that answers only for that workspace (or org).
 *
 * Throws `TokenKindError` (a `ConfigError`) for a missing or wrong-kind token — a user token as the bot
 * token, an app-level `xapp-` token, a refresh token — naming the variable, never the value; and
 * `ConfigError` when the user token belongs to another workspace or Slack cannot be reached.
 *
 * @example
 * ```ts
 * import { createSingleWorkspaceAuthorize, SlackRequestHandler } from "slack-oauth-kit";
 *
 * const source = await createSingleWorkspaceAuthorize({ botToken: process.env.SLACK_BOT_TOKEN });
 * const slack = new SlackRequestHandler({
 *   signingSecret: process.env.SLACK_SIGNING_SECRET ?? "",
 *   authorize: source.authorize,
 *   installationStore: source.installationStore, // uninstalls forget the token
 * });
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.test
 */
export async function createSingleWorkspaceAuthorize(
  options: SingleWorkspaceOptions,
): Promise<SingleWorkspaceAuthorize> {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("createSingleWorkspaceAuthorize: expected options { botToken, userToken?, api? }");
  }
  const botName = options.variableNames?.botToken ?? "SLACK_BOT_TOKEN";
  const userName = options.variableNames?.userToken ?? "SLACK_USER_TOKEN";
  const botToken = checkTokenKind(options.botToken, "bot", botName);
  const userToken =
    options.userToken === undefined || options.userToken.trim() === ""
      ? undefined
      : checkTokenKind(options.userToken, "user", userName);
  const api = options.api ?? new SlackApiClient();
  const logger = options.logger ?? silentLogger;

  const bot = await check(api, botToken, botName);
  const botId = str(bot.bot_id);
  const botUserId = str(bot.user_id);
  if (botId === undefined || botUserId === undefined) {
    throw new ConfigError(`${botName}: auth.test reported no bot for this token; a bot token (xoxb-) is needed`);
  }
  const isEnterpriseInstall = bot.is_enterprise_install === true;
  // Org-wide tokens: auth.test's team_id holds the org's id (not confirmed by Slack's docs; enterprise_id wins).
  const enterpriseId = str(bot.enterprise_id) ?? (isEnterpriseInstall ? str(bot.team_id) : undefined);
  const teamId = isEnterpriseInstall ? undefined : str(bot.team_id);
  if (isEnterpriseInstall ? enterpriseId === undefined : teamId === undefined) {
    throw new ConfigError(`${botName}: auth.test reported no workspace for this token`);
  }

  let userId: string | undefined;
  if (userToken !== undefined) {
    const user = await check(api, userToken, userName);
    userId = str(user.user_id);
    const userTeam = str(user.team_id);
    const userEnterprise = str(user.enterprise_id);
    const sameWorkspace = isEnterpriseInstall
      ? (userEnterprise ?? userTeam) === enterpriseId
      : userTeam === teamId || (userEnterprise !== undefined && userEnterprise === enterpriseId && userTeam === teamId);
    if (userId === undefined) throw new ConfigError(`${userName}: auth.test reported no user for this token`);
    if (!sameWorkspace) {
      throw new ConfigError(
        `${userName} belongs to another workspace (${userTeam ?? userEnterprise ?? "unknown"}) than ${botName} (${teamId ?? enterpriseId}): both must come from the same workspace`,
      );
    }
  }

  const workspace: SingleWorkspaceIdentity = { isEnterpriseInstall, botId, botUserId };
  if (teamId !== undefined) workspace.teamId = teamId;
  if (enterpriseId !== undefined) workspace.enterpriseId = enterpriseId;
  const teamName = str(bot.team);
  if (teamName !== undefined) workspace.teamName = teamName;
  const appId = str(bot.app_id);
  if (appId !== undefined) workspace.appId = appId;
  const url = str(bot.url);
  if (url !== undefined) workspace.url = url;
  if (userId !== undefined) workspace.userId = userId;

  // One installation, saved through the ordinary path: the uninstall clean-up then applies unchanged.
  // auth.test does not report scopes, so they are left empty. Without a user token the installer is
  // unknown: the bot user stands in as `userId` (stores require one).
  const installation: Installation = {
    userId: userId ?? botUserId,
    isEnterpriseInstall,
    botToken,
    botId,
    botUserId,
    botScopes: [],
    userScopes: [],
    tokenType: "bot",
    installedAt: Date.now() / 1000,
    customValues: { source: "environment" },
  };
  if (teamId !== undefined) installation.teamId = teamId;
  if (teamName !== undefined) {
    if (isEnterpriseInstall) installation.enterpriseName = teamName;
    else installation.teamName = teamName;
  }
  if (enterpriseId !== undefined) installation.enterpriseId = enterpriseId;
  if (isEnterpriseInstall && url !== undefined) installation.enterpriseUrl = url;
  if (appId !== undefined) installation.appId = appId;
  if (userToken !== undefined) installation.userToken = userToken;

  const installationStore = options.installationStore ?? new MemoryInstallationStore();
  await installationStore.save(installation);
  logger.info(
    `single-workspace mode: ${isEnterpriseInstall ? `org ${enterpriseId}` : `workspace ${teamId}`} as bot ${botId}${userId ? `, with the user token of ${userId}` : ""}`,
  );

  const lookup = createAuthorize({ installationStore });
  const authorize: AuthorizeFn = async (context) => {
    if (context === null || typeof context !== "object") {
      throw new InvalidArgumentError(
        "authorize: expected a context { enterpriseId?, teamId?, userId?, isEnterpriseInstall }",
      );
    }
    const mine = isEnterpriseInstall
      ? context.enterpriseId === enterpriseId
      : context.teamId === teamId &&
        (context.enterpriseId === undefined || context.enterpriseId === "" || context.enterpriseId === enterpriseId);
    if (!mine) throw new NotInstalledError("The app runs in single-workspace mode for another workspace");
    // The request is ours: look it up under the installation's own key (a Grid workspace's request may
    // omit its enterprise; an org-wide token answers for every workspace of the org).
    return lookup(
      isEnterpriseInstall
        ? { ...context, enterpriseId, isEnterpriseInstall: true }
        : { ...context, enterpriseId, isEnterpriseInstall: false },
    );
  };
  return { authorize, installationStore, workspace };
}
