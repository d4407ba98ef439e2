/**
 * Reply shapes of the Web API methods the library calls. Only the fields we know of are typed; every
 * reply keeps an index signature so it can be handed to the model builders (`Record<string, unknown>`)
 * and so fields Slack adds later are not lost.
 *
 * @see https://docs.slack.dev/reference/methods
 */

/**
 * Fields every Web API reply may carry. Successful calls resolve with `ok: true`; `ok: false` replies
 * are thrown as `SlackApiError`.
 *
 * @example
 * ```ts
 * const reply: SlackApiResponse = await client.call("team.info", {}, { token });
 * console.log(reply.response_metadata?.warnings);
 * ```
 * @see https://docs.slack.dev/apis/web-api/#responses
 */
export interface SlackApiResponse {
  ok: boolean;
  error?: string;
  warning?: string;
  needed?: string;
  provided?: string;
  response_metadata?: {
    warnings?: string[];
    messages?: string[];
    next_cursor?: string;
    scopes?: string[];
    acceptedScopes?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/**
 * A team or enterprise reference in an `oauth.v2.access` reply.
 *
 * @example
 * ```ts
 * const team: SlackTeamRef | null | undefined = reply.team;
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.v2.access
 */
export interface SlackTeamRef {
  id: string;
  name?: string;
  [key: string]: unknown;
}

/**
 * The `incoming_webhook` part of an install reply (apps with the `incoming-webhook` scope).
 *
 * @example
 * ```ts
 * const url = reply.incoming_webhook?.url;
 * ```
 * @see https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
 */
export interface SlackIncomingWebhook {
  url?: string;
  channel?: string;
  channel_id?: string;
  configuration_url?: string;
  [key: string]: unknown;
}

/**
 * `oauth.v2.access` reply for a code exchange (workspace, org-wide or user-only install; rotating
 * tokens add `expires_in` and `refresh_token`).
 *
 * @example
 * ```ts
 * const reply: OAuthV2AccessResponse = await client.oauthV2Access({ clientId, clientSecret, code });
 * const installation = installationFromV2Response(reply);
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.v2.access
 */
export interface OAuthV2AccessResponse extends SlackApiResponse {
  ok: true;
  app_id?: string;
  access_token?: string;
  token_type?: string;
  scope?: string;
  bot_user_id?: string;
  expires_in?: number;
  refresh_token?: string;
  team?: SlackTeamRef | null;
  enterprise?: SlackTeamRef | null;
  is_enterprise_install?: boolean;
  authed_user?: {
    id: string;
    scope?: string;
    access_token?: string;
    token_type?: string;
    expires_in?: number;
    refresh_token?: string;
    [key: string]: unknown;
  };
  incoming_webhook?: SlackIncomingWebhook;
}

/**
 * `oauth.v2.access` reply for `grant_type=refresh_token`: flat, one token (`token_type` `bot` or `user`).
 *
 * @example
 * ```ts
 * const reply: OAuthV2RefreshResponse = await client.oauthV2Refresh({ clientId, clientSecret, refreshToken });
 * const next = applyRefreshResponse(installation, reply);
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export interface OAuthV2RefreshResponse extends SlackApiResponse {
  ok: true;
  app_id?: string;
  access_token: string;
  token_type?: string;
  scope?: string;
  expires_in?: number;
  refresh_token?: string;
  bot_user_id?: string;
  user_id?: string;
  team?: SlackTeamRef | null;
  enterprise?: SlackTeamRef | null;
  is_enterprise_install?: boolean;
}

/**
 * `oauth.v2.exchange` reply: a long-lived token converted to a rotating one.
 *
 * @example
 * ```ts
 * const reply: OAuthV2ExchangeResponse = await client.oauthV2Exchange({ clientId, clientSecret, token });
 * console.log(reply.expires_in);
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.v2.exchange
 */
export interface OAuthV2ExchangeResponse extends SlackApiResponse {
  ok: true;
  app_id?: string;
  access_token?: string;
  token_type?: string;
  scope?: string;
  expires_in?: number;
  refresh_token?: string;
  bot_user_id?: string;
  user_id?: string;
  team?: SlackTeamRef | null;
  enterprise?: SlackTeamRef | null;
  is_enterprise_install?: boolean;
}

/**
 * Legacy v1 `oauth.access` reply: the top-level token is the installing user's, the bot token is
 * `bot.bot_access_token`.
 *
 * @example
 * ```ts
 * const reply: OAuthAccessResponse = await client.oauthAccess({ clientId, clientSecret, code });
 * const installation = installationFromV1Response(reply);
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.access
 */
export interface OAuthAccessResponse extends SlackApiResponse {
  ok: true;
  access_token?: string;
  scope?: string;
  team_name?: string;
  team_id?: string;
  enterprise_id?: string | null;
  user_id?: string;
  app_id?: string;
  incoming_webhook?: SlackIncomingWebhook;
  bot?: { bot_user_id?: string; bot_access_token?: string; [key: string]: unknown };
}

/**
 * `auth.test` reply: who a token belongs to. The only way to learn the bot id after an install.
 *
 * @example
 * ```ts
 * const who: AuthTestResponse = await client.authTest(botToken);
 * console.log(who.bot_id, who.team_id);
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.test
 */
export interface AuthTestResponse extends SlackApiResponse {
  ok: true;
  url?: string;
  team?: string;
  user?: string;
  team_id?: string;
  user_id?: string;
  bot_id?: string;
  enterprise_id?: string;
  is_enterprise_install?: boolean;
  app_id?: string;
  app_name?: string;
  expires_in?: number;
}

/**
 * `auth.teams.list` reply: the workspaces a token may act in (for an org-wide install, the org's
 * workspaces the app was added to), one page.
 *
 * @example
 * ```ts
 * const { teams, response_metadata }: AuthTeamsListResponse = await client.authTeamsList(orgBotToken);
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.teams.list
 */
export interface AuthTeamsListResponse extends SlackApiResponse {
  ok: true;
  teams?: Array<{ id?: string; name?: string; [key: string]: unknown }>;
  response_metadata?: { next_cursor?: string; [key: string]: unknown };
}

/**
 * `auth.revoke` reply.
 *
 * @example
 * ```ts
 * const { revoked }: AuthRevokeResponse = await client.authRevoke(token);
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.revoke
 */
export interface AuthRevokeResponse extends SlackApiResponse {
  ok: true;
  revoked?: boolean;
}

/**
 * `apps.uninstall` reply (`{ ok: true }`).
 *
 * @example
 * ```ts
 * const reply: AppsUninstallResponse = await client.appsUninstall({ token, clientId, clientSecret });
 * ```
 * @see https://docs.slack.dev/reference/methods/apps.uninstall
 */
export interface AppsUninstallResponse extends SlackApiResponse {
  ok: true;
}

/**
 * `openid.connect.token` reply (Sign in with Slack).
 *
 * @example
 * ```ts
 * const reply: OpenIDConnectTokenResponse = await client.openidConnectToken({ clientId, clientSecret, code });
 * // verify reply.id_token against Slack's JWKS before trusting it
 * ```
 * @see https://docs.slack.dev/reference/methods/openid.connect.token
 */
export interface OpenIDConnectTokenResponse extends SlackApiResponse {
  ok: true;
  access_token?: string;
  token_type?: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
}

/**
 * `openid.connect.userInfo` reply: the signed-in user's OpenID claims.
 *
 * @example
 * ```ts
 * const info: OpenIDConnectUserInfoResponse = await client.openidConnectUserInfo(userToken);
 * console.log(info.sub, info.email);
 * ```
 * @see https://docs.slack.dev/reference/methods/openid.connect.userInfo
 */
export interface OpenIDConnectUserInfoResponse extends SlackApiResponse {
  ok: true;
  sub?: string;
  email?: string;
  email_verified?: boolean;
  date_email_verified?: number;
  name?: string;
  picture?: string;
  given_name?: string;
  family_name?: string;
  locale?: string;
  "https://slack.com/user_id"?: string;
  "https://slack.com/team_id"?: string;
  "https://slack.com/team_name"?: string;
  "https://slack.com/team_domain"?: string;
}

/**
 * `views.open` reply: the opened view.
 *
 * @example
 * ```ts
 * const { view }: ViewsOpenResponse = await client.viewsOpen(botToken, { triggerId, view: modal });
 * console.log(view?.id);
 * ```
 * @see https://docs.slack.dev/reference/methods/views.open
 */
export interface ViewsOpenResponse extends SlackApiResponse {
  ok: true;
  view?: { id?: string; [key: string]: unknown };
}

/**
 * `chat.postMessage` reply.
 *
 * @example
 * ```ts
 * const { ts }: ChatPostMessageResponse = await client.chatPostMessage(botToken, { channel: "C123", text: "hi" });
 * ```
 * @see https://docs.slack.dev/reference/methods/chat.postMessage
 */
export interface ChatPostMessageResponse extends SlackApiResponse {
  ok: true;
  channel?: string;
  ts?: string;
  message?: Record<string, unknown>;
}
