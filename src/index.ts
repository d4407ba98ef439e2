export type { AuthorizeRotationOptions, RotationFailureInfo } from "./authorize/authorize.js";
export {
  type AuthorizeContext,
  type AuthorizeFn,
  type AuthorizeOptions,
  type AuthorizeResult,
  createAuthorize,
  createSingleWorkspaceAuthorize,
  extractContext,
  NotInstalledError,
  type SingleWorkspaceApi,
  type SingleWorkspaceAuthorize,
  type SingleWorkspaceAuthTestReply,
  type SingleWorkspaceIdentity,
  type SingleWorkspaceOptions,
  TokenRejectedError,
} from "./authorize/index.js";
export * from "./errors.js";
export {
  type AckDecision,
  createHandOffEndpoint,
  createHandOffWorker,
  type HandlerResult,
  type HandOffEndpointOptions,
  HandOffError,
  type HandOffOutcome,
  type HandOffWorkerOptions,
  isSlackJob,
  SLACK_JOB_TYPE,
  type SlackHandler,
  type SlackJob,
  type SlackRequest,
  SlackRequestHandler,
  type SlackRequestHandlerOptions,
  type SlackRequestKind,
} from "./events/index.js";
export { BodyReadTimeoutError, BodyTooLargeError } from "./http/core.js";
export type {
  AuthorizeCacheResult,
  AuthorizeOutcome,
  MetricsHooks,
  MetricsOptions,
  SlackRequestMetricKind,
  TokenRefreshOutcome,
} from "./metrics/hooks.js";
export * from "./model/index.js";
export {
  AuthorizeUrlGenerator,
  type AuthorizeUrlGeneratorOptions,
  type AuthorizeUrlOptions,
  computeCodeChallenge,
  generatePkce,
  normalizeScopes,
  type Pkce,
  SLACK_AUTHORIZE_URL,
  SLACK_LEGACY_AUTHORIZE_URL,
} from "./oauth/authorize-url.js";
export {
  type InstallationHookContext,
  type InstallOptions,
  OAuthFlow,
  type OAuthFlowApi,
  OAuthFlowError,
  type OAuthFlowOptions,
} from "./oauth/flow.js";
export { escapeHtml } from "./oauth/html.js";
export {
  type FailurePageContext,
  type InstallPageContext,
  renderFailurePage,
  renderInstallPage,
  renderSuccessPage,
  type SuccessPageContext,
} from "./oauth/pages.js";
export * from "./oidc/index.js";
export * from "./redact.js";
export * from "./rotation/index.js";
export * from "./signature/index.js";
export * from "./slack-api/index.js";
export * from "./state/index.js";
export {
  type CacheOptions,
  CachingInstallationStore,
  type InvalidationBus,
  type InvalidationMessage,
  LocalInvalidationBus,
  LruTtlCache,
  type LruTtlCacheOptions,
} from "./stores/cache.js";
export {
  EncryptedInstallationStore,
  type EncryptionKey,
  type EncryptionOptions,
  parseEncryptionKeys,
  type RekeyProgress,
  rekey,
  TokenCipher,
} from "./stores/encryption.js";
export {
  assertOptionalId,
  type BotQuery,
  checkLock,
  checkTokenUpdate,
  DEFAULT_LOCK_LEASE_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  type LockOptions,
  normalizeQuery,
  type TokenExpectation,
  type TokenPatch,
  validateInstallation,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "./stores/installation-store.js";
export {
  checkTokenKind,
  looksLikeSlackToken,
  TOKEN_KIND_NAMES,
  type TokenKind,
  TokenKindError,
  tokenKind,
} from "./tokens.js";
