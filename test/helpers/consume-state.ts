/**
 * Child process for the multi-process state test (see `MultiProcessOptions` in
 * test/conformance/state-store.ts): opens a {@link FileStateStore} on `<baseDir>`, prints `ready`,
 * waits for one line on stdin, consumes every state in order and prints one JSON line per state.
 *
 * Usage: `node --import tsx test/helpers/consume-state.ts <baseDir> <state>...`
 */
import { once } from "node:events";
import { FileStateStore } from "../../src/stores/file.js";

const [baseDir, ...states] = process.argv.slice(2);
if (!baseDir || states.length === 0) {
  process.stderr.write("usage: consume-state.ts <baseDir> <state>...\n");
  process.exit(2);
}
const store = new FileStateStore({ baseDir });
process.stdout.write("ready\n");
await once(process.stdin, "data");
process.stdin.destroy();
for (const state of states) {
  const data = await store.consume(state);
  process.stdout.write(`${JSON.stringify({ state, data: data ?? null })}\n`);
}
await store.close();
