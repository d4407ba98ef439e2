/**
 * Child process of the several-isolates state test (test/stores/d1.test.ts, the suite's `multiProcess`):
 * opens a D1 state store in ITS OWN Worker isolate (reached at `<url>`, a socket of that isolate only),
 * prints `ready`, waits for one line on stdin, then consumes every state in order there and prints one JSON
 * line per state. Plain JavaScript (no transpiler), speaking the wire format of wire.ts.
 *
 * Usage: `node test/workers/consume-states.mjs <url> <tablePrefix> <state>...`
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";

const [url, tablePrefix, ...states] = process.argv.slice(2);
if (!url || !tablePrefix || states.length === 0) {
  process.stderr.write("usage: consume-states.mjs <url> <tablePrefix> <state>...\n");
  process.exit(2);
}

/** The wire form of an object of strings (and one nested object of strings). */
const wire = (value) =>
  typeof value === "string"
    ? ["v", value]
    : Array.isArray(value)
      ? ["a", value.map(wire)]
      : ["o", Object.entries(value).map(([k, v]) => [k, wire(v)])];
/** Plain JSON values back from the wire (what a consume returns). */
const unwire = ([tag, v]) =>
  tag === "u"
    ? undefined
    : tag === "v"
      ? v
      : tag === "a"
        ? v.map(unwire)
        : Object.fromEntries(v.map(([k, x]) => [k, unwire(x)]));

async function post(path, body) {
  const res = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(wire(body)) });
  const answer = await res.json();
  if (answer.error) throw new Error(`${path}: ${answer.error.name}: ${answer.error.message}`);
  return unwire(answer.ok);
}

const id = randomUUID();
await post("/open", { id, kind: "state", options: { tablePrefix } });
process.stdout.write("ready\n");
await once(process.stdin, "data");
process.stdin.destroy();
for (const state of states) {
  const data = await post("/call", { id, method: "consume", args: [state] });
  process.stdout.write(`${JSON.stringify({ state, data: data ?? null })}\n`);
}
await post("/close", { id });
