// isValidId is the gate every outside identifier passes before it reaches a path, a key or a query.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isValidId } from "../../src/stores/installation-store.js";

/** The rule as documented: 1–64 characters, alphanumeric first, then [A-Za-z0-9_.-], never "..". */
const RULE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const byRule = (v: unknown) => typeof v === "string" && RULE.test(v) && !v.includes("..");

describe("isValidId", () => {
  it("accepts Slack's ids and refuses traversal, separators and oversize values", () => {
    for (const ok of ["T0123ABCD", "E01", "U0G9QF9C6", "A0BENCH0001", "a.b", "a-b_c", "9".repeat(64)]) {
      expect(isValidId(ok)).toBe(true);
    }
    for (const bad of [
      "",
      "..",
      "a..b",
      ".a",
      "_a",
      "-a",
      "a/b",
      "a\\b",
      "a b",
      "T1\n",
      "a|b",
      "é",
      "9".repeat(65),
      42,
      null,
    ]) {
      expect(isValidId(bad)).toBe(false);
    }
  });

  it("agrees with the documented rule on arbitrary input (fast-check)", () => {
    const unit = fc.constantFrom("a", "Z", "0", ".", "_", "-", "/", " ", "é", "\n", "\u0000", "|");
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit, maxLength: 70 }), fc.string({ maxLength: 70 }), fc.anything()), (v) => {
        expect(isValidId(v)).toBe(byRule(v));
      }),
      { numRuns: 5_000 },
    );
  });
});
