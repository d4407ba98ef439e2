/**
 * The wire format between the test process and the store Worker running in workerd: JSON that keeps
 * what plain JSON loses (undefined, NaN, ±Infinity, bigint, symbols, cycles), so that the conformance suites' bad inputs
 * reach the store in workerd exactly as they were written, and the results come back exactly.
 */

type Wire = [string, unknown];

export function encode(v: unknown, ancestors: object[] = []): Wire {
  if (v === undefined) return ["u", 0];
  if (typeof v === "number" && !Number.isFinite(v)) return ["n", String(v)];
  if (typeof v === "bigint") return ["b", String(v)];
  if (typeof v === "symbol") return ["s", v.description ?? ""];
  if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return ["v", v];
  if (typeof v === "object") {
    // A cycle (the suites' "circular" bad input) points back at the ancestor it repeats.
    const at = ancestors.indexOf(v);
    if (at >= 0) return ["c", at];
    const inner = [...ancestors, v];
    if (Array.isArray(v)) return ["a", v.map((x) => encode(x, inner))];
    return ["o", Object.entries(v).map(([k, x]) => [k, encode(x, inner)])];
  }
  throw new TypeError(`wire: cannot send a ${typeof v}`);
}

export function decode(w: unknown, ancestors: object[] = []): unknown {
  const [tag, v] = w as Wire;
  switch (tag) {
    case "u":
      return undefined;
    case "n":
      return Number(v);
    case "b":
      return BigInt(v as string);
    case "s":
      return Symbol(v as string);
    case "v":
      return v;
    case "c":
      return ancestors[v as number];
    case "a": {
      const out: unknown[] = [];
      const inner = [...ancestors, out];
      for (const x of v as Wire[]) out.push(decode(x, inner));
      return out;
    }
    case "o": {
      const out: Record<string, unknown> = {};
      const inner = [...ancestors, out];
      for (const [k, x] of v as [string, Wire][]) out[k] = decode(x, inner);
      return out;
    }
    default:
      throw new TypeError(`wire: unknown tag ${String(tag)}`);
  }
}

/** An error as it crosses the wire: its class name, code and message (never its cause or stack). */
export interface WireError {
  name: string;
  code?: string | undefined;
  message: string;
  /** Set when it is the test process's own error coming back from `withLock`'s fn. */
  fromCaller?: boolean | undefined;
}

export function encodeError(e: unknown): WireError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, message: e.message, ...(typeof code === "string" ? { code } : {}) };
  }
  return { name: "Error", message: String(e) };
}
