export { BodyReadTimeoutError, BodyTooLargeError, DEFAULT_MAX_BODY_BYTES, readBody } from "../http/core.js";
export { peekAppId, SlackAppRouter, type SlackAppRouterOptions } from "./app-router.js";
export {
  type AckDecision,
  createHandOffEndpoint,
  createHandOffWorker,
  type HandOffEndpointOptions,
  HandOffError,
  type HandOffOutcome,
  type HandOffWorkerOptions,
  isSlackJob,
  SLACK_JOB_TYPE,
  type SlackJob,
} from "./hand-off.js";
export {
  type HandlerResult,
  type RawSlackRequest,
  type RawSlackResponse,
  type SlackHandler,
  type SlackRequest,
  SlackRequestHandler,
  type SlackRequestHandlerOptions,
  type SlackRequestKind,
} from "./handler.js";
