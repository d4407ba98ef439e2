/**
 * The default HTML pages: install, success and failure pages of the OAuth flow, and the Sign in with Slack
 * pages. `OAuthFlow` and `OpenIDConnectFlow` render them on their own; import them from
 * `slack-oauth-kit/pages` to wrap, restyle or reuse them, with {@link escapeHtml} for your own markup.
 *
 * @module
 */
export { escapeHtml } from "./oauth/html.js";
export {
  type FailurePageContext,
  type InstallPageContext,
  renderFailurePage,
  renderInstallPage,
  renderSuccessPage,
  type SuccessPageContext,
} from "./oauth/pages.js";
export { type SlackIdentity, safeImageUrl } from "./oidc/identity.js";
export {
  type ProfilePageContext,
  renderProfilePage,
  renderSignedInPage,
  renderSignInFailurePage,
  renderSignInPage,
  type SignedInPageContext,
  type SignInFailurePageContext,
  type SignInPageContext,
} from "./oidc/pages.js";
