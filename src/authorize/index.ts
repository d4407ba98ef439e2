export {
  type AuthorizeFn,
  type AuthorizeOptions,
  type AuthorizeResult,
  createAuthorize,
  NotInstalledError,
} from "./authorize.js";
export { type AuthorizeContext, extractContext } from "./context.js";
export {
  createSingleWorkspaceAuthorize,
  type SingleWorkspaceApi,
  type SingleWorkspaceAuthorize,
  type SingleWorkspaceAuthTestReply,
  type SingleWorkspaceIdentity,
  type SingleWorkspaceOptions,
  TokenRejectedError,
} from "./single-workspace.js";
