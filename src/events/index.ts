export { BodyReadTimeoutError, BodyTooLargeError, DEFAULT_MAX_BODY_BYTES, readBody } from "../http/core.js";
export {
  type HandlerResult,
  type SlackHandler,
  type SlackRequest,
  SlackRequestHandler,
  type SlackRequestHandlerOptions,
  type SlackRequestKind,
} from "./handler.js";
