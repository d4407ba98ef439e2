/**
 * A TCP port for a server a test starts later (a child process, or one whose URL must be known before it
 * starts). Port 0 would hand out a port from the kernel's ephemeral range, which outgoing connections of
 * every other test worker draw from as well: between the pick and the listen one of them can take it
 * (seen as EADDRINUSE). So the pick is a random port below that range, checked by listening on it once.
 * Only plain `node:` imports: the benchmarks use it too, without Vitest.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The lowest ephemeral port of this machine (Linux: ip_local_port_range), 32768 when it cannot be read. */
function ephemeralLow(): number {
  try {
    const low = Number.parseInt(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0] ?? "",
      10,
    );
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

const HIGH = ephemeralLow(); // exclusive
const LOW = Math.max(1024, Math.min(20_000, HIGH - 4096));

function tryListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that was free a moment ago and is outside the ephemeral range. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await tryListen(port, host)) return port;
  }
  throw new Error(`freePort: no free port between ${LOW} and ${HIGH - 1} after 200 tries`);
}
