/** The emulator's logger: what every part that reports (delivery, the server) writes to. */

/** A minimal logger (structurally compatible with the library's `Logger`). The emulator never logs secrets. */
export interface EmulatorLogger {
  /** Reports normal operation. */
  info(message: string): void;
  /** Reports something unexpected the emulator recovered from. */
  warn(message: string): void;
  /** Reports a failure. */
  error(message: string): void;
  /** Reports detail for debugging (optional). */
  debug?(message: string): void;
}
