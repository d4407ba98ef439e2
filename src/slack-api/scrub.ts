// Internal (not re-exported): removes the credentials of the request being made from whatever Slack sent
// back, before any of it reaches an error or a log line. `redact` only knows recognisable shapes and
// registered secrets; a server that echoes an unshaped code or token would otherwise leak it.

const MIN_LENGTH = 4;
const MAX_DEPTH = 8;

/** Replaces every occurrence of the given secrets in a string. */
export function scrubString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= MIN_LENGTH && out.includes(s)) out = out.split(s).join("****");
  }
  return out;
}

/** Deep copy of a JSON value with every string scrubbed (keys included). */
export function scrubValue(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === "string") return scrubString(value, secrets);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[…]";
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[scrubString(k, secrets)] = scrubValue(v, secrets, depth + 1);
  return out;
}
