// parseFormBody must decode exactly as URLSearchParams (first value wins), only faster.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFormBody } from "../../src/events/body.js";

/** The reference: URLSearchParams over the same text, without its constructor's leading-"?" removal. */
function reference(text: string): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const [k, v] of new URLSearchParams(`&${text}`)) {
    if (seen.has(k)) continue;
    seen.add(k);
    out.push([k, v]);
  }
  return out.sort(byKey);
}
const byKey = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
/** Entries sorted (objects list integer-like keys first, whatever their order in the body). */
const entries = (o: Record<string, string>) => Object.entries(o).sort(byKey);

describe("parseFormBody", () => {
  it("decodes a slash command body", () => {
    const body = parseFormBody(
      "token=x&team_id=T1&command=%2Fopen-modal&text=hello+world+%E2%9C%93&user_id=U1&text=second&empty=&flag",
    );
    expect(body).toEqual({
      token: "x",
      team_id: "T1",
      command: "/open-modal",
      text: "hello world ✓",
      user_id: "U1",
      empty: "",
      flag: "",
    });
  });

  it("keeps __proto__, constructor and friends as plain own fields", () => {
    const body = parseFormBody("__proto__=x&constructor=y&hasOwnProperty=z");
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.entries(body)).toEqual([
      ["__proto__", "x"],
      ["constructor", "y"],
      ["hasOwnProperty", "z"],
    ]);
    expect(Object.hasOwn(parseFormBody("a=1"), "constructor")).toBe(false);
  });

  it("matches URLSearchParams on malformed escapes, invalid UTF-8, lone surrogates and a leading ?", () => {
    for (const text of [
      "a=%",
      "a=%2",
      "a=%zz",
      "a=%E2%82",
      "a=%FF%FE",
      "%ED%A0%80=1",
      "a=\uD800",
      "?a=1",
      "a=%C0%AF",
      "&&=&a",
    ]) {
      expect(entries(parseFormBody(text))).toEqual(reference(text));
    }
  });

  it("matches URLSearchParams on arbitrary input (fast-check)", () => {
    const piece = fc.oneof(
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: fc.constantFrom("a", "%", "2", "F", "+", "=", "&", "E", "8", "C", "0", "\uD800") }),
      fc.constantFrom("%", "%2", "%E2%82%AC", "+", "=", "&", "%ED%A0%80", "%FF", "__proto__", "%26", "%3D", "%2B"),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((a) => a.join("")),
        (text) => {
          expect(entries(parseFormBody(text))).toEqual(reference(text));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
