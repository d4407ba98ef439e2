export {
  type BatchOptions,
  type BatchReport,
  type ConvertOptions,
  convertToRotatingTokens,
  type RotateExpiringOptions,
  type RotationItem,
  rotateExpiringTokens,
} from "./batch.js";
export {
  type BotRotation,
  type RefreshOptions,
  RotationCoordinator,
  type RotationCoordinatorOptions,
  type RotationStatus,
  type UserRotation,
} from "./coordinator.js";
export {
  type TokenFamily,
  type TokenOwner,
  TokenRefreshError,
  type TokenRefreshErrorInit,
  type TokenRefreshFailure,
} from "./errors.js";
export { SingleFlight } from "./single-flight.js";
export {
  DEFAULT_ROTATION_WINDOW_SECONDS,
  type RefreshedToken,
  TokenRotator,
  type TokenRotatorOptions,
} from "./token-rotator.js";
