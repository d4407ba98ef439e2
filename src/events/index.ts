export { BodyTooLargeError, DEFAULT_MAX_BODY_BYTES, readRawBody } from "./body.js";
export {
  type HandlerResult,
  type SlackHandler,
  type SlackRequest,
  SlackRequestHandler,
  type SlackRequestHandlerOptions,
  type SlackRequestKind,
} from "./handler.js";
