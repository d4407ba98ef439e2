/**
 * Clock options say their unit: `nowMs` returns epoch milliseconds (like `Date.now`), `nowSeconds` epoch
 * seconds. The old names (`clock`, `now`) meant milliseconds in some places and seconds in others; a
 * JavaScript caller still passing one gets a {@link CodedTypeError} rather than a silently ignored clock.
 *
 * @internal
 */
import { CodedTypeError } from "./errors.js";

/**
 * Throws when `options` still carries a renamed clock option (`renames` maps old name to new name).
 *
 * @example
 * ```ts
 * rejectRenamedClock(options, "SignatureVerifier", { clock: "nowSeconds" });
 * ```
 */
export function rejectRenamedClock(options: unknown, owner: string, renames: Readonly<Record<string, string>>): void {
  if (options === null || typeof options !== "object") return;
  for (const [old, renamed] of Object.entries(renames)) {
    if ((options as Record<string, unknown>)[old] === undefined) continue;
    const unit = renamed.endsWith("Ms") ? "epoch milliseconds" : "epoch seconds";
    throw new CodedTypeError(`${owner}: the ${old} option is now ${renamed} (${unit}); see CHANGELOG.md`);
  }
}

/** Checks that a clock option, when given, is a function. */
export function checkClockOption(value: unknown, owner: string, name: string): void {
  if (value !== undefined && typeof value !== "function") {
    throw new CodedTypeError(`${owner}: ${name} must be a function returning the current time`);
  }
}
