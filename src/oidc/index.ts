export {
  OpenIDConnectAuthorizeUrlGenerator,
  type OpenIDConnectAuthorizeUrlGeneratorOptions,
  type OpenIDConnectAuthorizeUrlOptions,
  type OpenIDConnectScope,
  parseOidcScopes,
  SLACK_OIDC_AUTHORIZE_URL,
  SLACK_OIDC_BASE_URL,
  SLACK_OIDC_ISSUER,
} from "./authorize-url.js";
export { IdTokenError, type IdTokenErrorCode, SignInError } from "./errors.js";
export {
  OIDC_STATE_COOKIE_NAME,
  OpenIDConnectFlow,
  type OpenIDConnectFlowApi,
  type OpenIDConnectFlowOptions,
  SIGN_IN_ERROR_HEADER,
  type SignInHookContext,
  type SignInOptions,
  type SignInTokens,
} from "./flow.js";
export { identityFromClaims, type SlackIdentity, safeImageUrl } from "./identity.js";
export { JwksCache, type JwksCacheOptions, type JwksCacheStats } from "./jwks.js";
export { generateNonce, nonceMatches } from "./nonce.js";
export {
  type ProfilePageContext,
  renderProfilePage,
  renderSignedInPage,
  renderSignInFailurePage,
  renderSignInPage,
  type SignedInPageContext,
  type SignInFailurePageContext,
  type SignInPageContext,
} from "./pages.js";
export {
  isSameOriginRequest,
  SESSION_COOKIE_NAME,
  type Session,
  SessionCookie,
  type SessionCookieOptions,
} from "./session.js";
export { IdTokenVerifier, type IdTokenVerifierOptions, type SlackIdTokenClaims } from "./verifier.js";
