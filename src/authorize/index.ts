export {
  type AuthorizeFn,
  type AuthorizeOptions,
  type AuthorizeResult,
  createAuthorize,
  NotInstalledError,
} from "./authorize.js";
export { type AuthorizeContext, extractContext } from "./context.js";
