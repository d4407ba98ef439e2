/**
 * `npm run soak [-- --store sqlite|file] [--ttl 30]`: the reference server (sandbox mode, in a process of
 * its own) with a short state lifetime, flooded with install starts from 127.0.0.1 as fast as it answers
 * for 3 × TTL, while 1,000 slow clients from 127.0.0.2–127.0.0.11 (100 each, the per-address cap) trickle
 * headers or bodies and reconnect whenever the server cuts them off. Every 5 s it prints the server's RSS,
 * the state rows (SQLite) or files (file store), install starts per second, slow clients connected, and
 * `/healthz` latency (probed every 250 ms from 127.0.0.1). Stops by itself (at most 5 minutes) and exits 1
 * if a probe failed or took over 1 s, the states passed 1.5 × the peak rate × TTL or, at any sample after
 * the first TTL, 1.5 × the starts of the TTL before it, or RSS grew more than 15% after the first TTL.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { spawnTarget } from "./fuzz.js";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "sqlite" },
    ttl: { type: "string", default: "30" },
    slow: { type: "string", default: "1000" },
    flood: { type: "string", default: "8" },
  },
});
const ttl = Number(values.ttl);
const store = values.store;
const slowTotal = Number(values.slow);
const floodConcurrency = Number(values.flood);
if (
  !(ttl >= 5 && ttl <= 90) ||
  (store !== "sqlite" && store !== "file") ||
  !(slowTotal >= 0) ||
  !(floodConcurrency >= 1)
) {
  console.error("usage: npm run soak -- [--store sqlite|file] [--ttl 5..90] [--slow N] [--flood N]");
  process.exit(2);
}
const durationMs = 3 * ttl * 1000;
const { mkdtempSync, rmSync } = await import("node:fs");
const { tmpdir } = await import("node:os");
const dataDir = mkdtempSync(join(tmpdir(), "slack-oauth-kit-soak-"));
const databaseUrl =
  store === "sqlite" ? `sqlite:${join(dataDir, "soak.db")}` : `file:${join(dataDir, "installations")}`;
const target = await spawnTarget("sandbox", {
  DATABASE_URL: databaseUrl,
  STRESS_STATE_TTL_SECONDS: String(ttl),
  // The flood comes from one address on purpose (the store must keep pace at the highest rate):
  // the install-start limit is lifted explicitly.
  INSTALL_RATE_LIMIT: "0",
});
console.log(
  `soak: ${store} state store, TTL ${ttl} s, flood ${floodConcurrency} concurrent install starts for ${3 * ttl} s, ${slowTotal} slow clients; server pid ${target.pid}`,
);

// ─── Measurements ──────────────────────────────────────────────────────────────────────────────────────

function rssMb(): number {
  const status = readFileSync(`/proc/${target.pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const sqlite =
  store === "sqlite" ? new Database(join(dataDir, "soak.db"), { readonly: true, fileMustExist: false }) : undefined;
function stateCount(): number {
  if (sqlite) {
    try {
      return (sqlite.prepare("SELECT COUNT(*) AS n FROM slack_oauth_states").get() as { n: number }).n;
    } catch {
      return 0;
    }
  }
  try {
    return readdirSync(join(dataDir, "installations-states")).filter((n) => n !== ".expiry").length;
  } catch {
    return 0;
  }
}

// ─── The flood ─────────────────────────────────────────────────────────────────────────────────────────

let running = true;
let starts = 0;
let floodErrors = 0;
const floodStatuses = new Map<number, number>();
const agent = new Agent({ keepAlive: true, maxSockets: floodConcurrency });
function installStart(): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: target.port,
        path: "/slack/install",
        agent,
        headers: { host: `localhost:${target.port}` },
      },
      (res) => {
        floodStatuses.set(res.statusCode ?? 0, (floodStatuses.get(res.statusCode ?? 0) ?? 0) + 1);
        if (res.statusCode === 200) starts++;
        res.resume();
        res.on("end", () => resolve());
        res.on("error", () => resolve());
      },
    );
    req.on("error", () => {
      floodErrors++;
      resolve();
    });
    req.end();
  });
}
async function floodWorker(): Promise<void> {
  while (running) await installStart();
}

// ─── Slow clients ──────────────────────────────────────────────────────────────────────────────────────

let slowConnected = 0;
let allSlowConnected: () => void = () => {};
const slowReady = new Promise<void>((r) => {
  allSlowConnected = r;
});
let slowCutOff = 0;
let slowRefused = 0;
const slowSockets = new Set<Socket>();
function slowClient(address: string, index: number): void {
  if (!running) return;
  const socket = connect({ host: "127.0.0.1", port: target.port, localAddress: address });
  slowSockets.add(socket);
  let timer: NodeJS.Timeout | undefined;
  let connected = false;
  let reply = "";
  socket.on("connect", () => {
    connected = true;
    slowConnected++;
    if (slowConnected === slowTotal) allSlowConnected();
    // Half trickle a header, half a body: one byte every 2 s.
    socket.write(
      index % 2 === 0
        ? "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
        : "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
    );
    timer = setInterval(() => socket.write("a"), 2000);
  });
  socket.on("data", (c) => {
    reply += c.toString("latin1");
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    clearInterval(timer);
    slowSockets.delete(socket);
    if (connected) slowConnected--;
    if (reply.startsWith("HTTP/1.1 429")) slowRefused++;
    else slowCutOff++;
    // Come back, as an attacker would.
    if (running) setTimeout(() => slowClient(address, index), 200);
  });
}

// ─── /healthz probes ───────────────────────────────────────────────────────────────────────────────────

interface Probe {
  at: number;
  ms: number;
  ok: boolean;
}
const probes: Probe[] = [];
function probe(): Promise<void> {
  const at = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: target.port,
        path: "/healthz",
        agent: false,
        timeout: 5000,
        headers: { connection: "close" },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          probes.push({ at, ms: performance.now() - at, ok: res.statusCode === 200 });
          resolve();
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => {
      probes.push({ at, ms: performance.now() - at, ok: false });
      resolve();
    });
    req.end();
  });
}

// ─── The run ───────────────────────────────────────────────────────────────────────────────────────────

interface Sample {
  t: number;
  rss: number;
  states: number;
  startsPerSecond: number;
  /** Install starts since the flood began. */
  starts: number;
  slow: number;
  healthMaxMs: number;
  healthFailed: number;
}
const samples: Sample[] = [];
// The slow clients first (all connected, or 10 s), then the flood, the probes and the clock.
const perAddress = Math.ceil(slowTotal / 10);
for (let i = 0; i < slowTotal; i++) slowClient(`127.0.0.${2 + Math.floor(i / perAddress)}`, i);
if (slowTotal > 0) await Promise.race([slowReady, new Promise((r) => setTimeout(r, 10_000))]);
console.log(`${slowConnected} slow clients connected`);
const t0 = performance.now();
const flood = Array.from({ length: floodConcurrency }, floodWorker);
const prober = (async () => {
  while (running) {
    await probe();
    await new Promise((r) => setTimeout(r, 250));
  }
})();
console.log(" time   RSS MB   states   starts/s   slow clients   /healthz max ms   failed probes");
let lastStarts = 0;
let lastT = 0;
let lastProbe = 0;
const sampler = setInterval(() => {
  const t = (performance.now() - t0) / 1000;
  const window = probes.slice(lastProbe);
  lastProbe = probes.length;
  const s: Sample = {
    t,
    rss: rssMb(),
    states: stateCount(),
    startsPerSecond: (starts - lastStarts) / (t - lastT),
    starts,
    slow: slowConnected,
    healthMaxMs: window.reduce((m, p) => Math.max(m, p.ms), 0),
    healthFailed: window.filter((p) => !p.ok).length,
  };
  lastStarts = starts;
  lastT = t;
  samples.push(s);
  console.log(
    `${s.t.toFixed(0).padStart(4)}s ${s.rss.toFixed(1).padStart(8)} ${String(s.states).padStart(8)} ${s.startsPerSecond.toFixed(0).padStart(10)} ${String(s.slow).padStart(14)} ${s.healthMaxMs.toFixed(1).padStart(17)} ${String(s.healthFailed).padStart(15)}`,
  );
}, 5000);
await new Promise((r) => setTimeout(r, durationMs));
running = false;
clearInterval(sampler);
for (const s of slowSockets) s.destroy();
await Promise.all([...flood, prober]);
agent.destroy();
sqlite?.close();
await target.stop();
rmSync(dataDir, { recursive: true, force: true });

// ─── Verdict ───────────────────────────────────────────────────────────────────────────────────────────

const rate = starts / (durationMs / 1000);
// The bound is taken at the highest rate the server reached (a 5 s window), not the run's average.
const peakRate = samples.reduce((m, x) => Math.max(m, x.startsPerSecond), 0);
const bound = 1.5 * peakRate * ttl;
const after = (k: number) => samples.filter((s) => s.t > k * ttl && s.t <= (k + 1) * ttl);
const max = (xs: number[]) => xs.reduce((m, x) => Math.max(m, x), 0);
const statesSecond = max(after(1).map((s) => s.states));
const statesThird = max(after(2).map((s) => s.states));
const rssSecond = max(after(1).map((s) => s.rss));
const rssThird = max(after(2).map((s) => s.rss));
const healthMax = max(probes.map((p) => p.ms));
const failed = probes.filter((p) => !p.ok).length;
const slowMin = Math.min(...samples.map((s) => s.slow));
// Keeping pace: at each sample after the first TTL, the states held are at most 1.5 × the starts of the
// TTL before it (the rate varies with the machine's load, so each sample is judged on its own window).
const paceRatios = samples
  .filter((x) => x.t > ttl + 5)
  .map((x) => {
    const before = samples.filter((y) => y.t <= x.t - ttl).at(-1);
    const inWindow = x.starts - (before?.starts ?? 0);
    return x.states / Math.max(1, inWindow);
  });
const worstPace = max(paceRatios);
const checks: Array<[string, boolean]> = [
  [`every /healthz probe answered 200 (${probes.length} probes, ${failed} failed)`, failed === 0],
  [`every /healthz probe within 1 s (max ${healthMax.toFixed(1)} ms)`, healthMax <= 1000],
  [
    `states ≤ 1.5 × peak rate × TTL (max ${max(samples.map((s) => s.states))} ≤ ${bound.toFixed(0)}; peak ${peakRate.toFixed(0)}/s)`,
    max(samples.map((s) => s.states)) <= bound,
  ],
  [
    `states keep pace after the first TTL: at most ${worstPace.toFixed(2)} × the starts of the TTL before each sample (≤ 1.5)`,
    worstPace <= 1.5,
  ],
  [`states: 2nd TTL max ${statesSecond}, 3rd TTL max ${statesThird} (informative; they follow the rate)`, true],
  [
    `RSS flat after the first TTL (2nd TTL max ${rssSecond.toFixed(1)} MB, 3rd ${rssThird.toFixed(1)} MB, ≤ +15%)`,
    rssThird <= rssSecond * 1.15,
  ],
];
console.log(
  `\n${starts} install starts (${rate.toFixed(0)}/s), flood replies ${[...floodStatuses].map(([s, n]) => `${s}:${n}`).join(" ")}, ${floodErrors} flood errors; slow clients: at least ${slowMin} connected at every sample, ${slowCutOff} cut off by the read timeouts, ${slowRefused} refused at the per-address cap`,
);
for (const [what, ok] of checks) console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
