/**
 * Runtimes benchmark (`npm run bench -- runtimes`): the toolkit's one fetch handler on Node, Deno, Bun and
 * workerd (Cloudflare Workers), in one run. The same app (`bench/lib/runtime-app.mjs`: `toFetchHandler`
 * over `OAuthFlow` + `SlackRequestHandler`, `createAuthorize` over a `CachingInstallationStore` of 1,000
 * workspaces in memory) is served as each runtime's users serve one: `node:http` + `toNodeListener`,
 * `Deno.serve`, `Bun.serve`; on workerd it is a Worker (`bench/lib/runtime-worker.mjs`, the same code as a
 * fetch export, bundled by esbuild) run by Miniflare 3 with `nodejs_compat`.
 *
 * Per runtime and round:
 * - start-up: from spawning the process to its `listening on` line (runtime boot, loading dist/, seeding);
 *   on workerd, from `new Miniflare()` (which spawns workerd) to the answer of the first command (a Worker
 *   builds its app, here seeding included, on its first request: that is its cold start);
 * - signed slash commands per second: autocannon here (16 connections, 2 s warm-up, then `BENCH_SECONDS`,
 *   default 5), cycling over 1,000 signed `/bench` commands from distinct workspaces; each one is verified,
 *   parsed and authorized (cache hit) and answered with JSON. A first request by hand must get a 200;
 * - CPU time per command: user + system time of the server process (all its threads, from /proc) over the
 *   measured seconds ÷ commands served. Unlike the rate, it hardly depends on other load on the machine.
 *
 * The runtimes are measured in turn, round after round (`BENCH_ROUNDS`, default 3), so that drift in the
 * machine's load hits all of them alike; ratios to Node are taken within a round, and medians reported.
 * On 2 cores the load generator and the server share the machine: read the ratios, not the absolutes.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import type { Miniflare } from "miniflare";
import { BUN, DENO, freePort, type Runtime, startApp } from "../test/runtimes/runtimes.js";
import { bundleWorker, startWorker } from "../test/workers/workerd.js";
import { signedCommands } from "./lib/fixtures.js";
import { HttpClient } from "./lib/http.js";
import { fixed, int, machineLine, printTable } from "./lib/report.js";

type Name = "Node" | "Deno" | "Bun" | "workerd";

interface Result {
  runtime: Name;
  round: number;
  startupMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** CPU time (user + system, all threads) of the server process per request, µs: load-independent. */
  cpuMicrosPerRequest: number;
}

/** Clock ticks per second of /proc/<pid>/stat's times. */
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** User + system CPU time of a process and all its threads so far, in µs (Linux /proc). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime) of proc(5); the slice starts at field 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

const APP = "bench/lib/runtime-app.mjs";

/** The pid of this process's `workerd` child (Miniflare spawns one per instance; one runs at a time here). */
function workerdPid(): number {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.trim().endsWith("workerd"));
  if (line === undefined) throw new Error("workerd: no child process found");
  return Number(line.trim().split(/\s+/)[0]);
}

/** A served app: its URL, start-up time, server pid, and how to stop it. */
interface Served {
  url: string;
  startupMs: number;
  pid: number;
  stop(): Promise<unknown>;
}

let workerCode: Promise<string> | undefined;

async function serve(name: Name, signingSecret: string, installations: number, first: RequestInit & { path: string }) {
  const port = await freePort();
  if (name === "workerd") {
    workerCode ??= bundleWorker("bench/lib/runtime-worker.mjs");
    const code = await workerCode;
    const started = performance.now();
    const mf: Miniflare = await startWorker(code, {
      host: "127.0.0.1",
      port,
      bindings: { SIGNING_SECRET: signingSecret, BENCH_INSTALLATIONS: String(installations) },
    });
    const url = `http://127.0.0.1:${port}`;
    const reply = await fetch(`${url}${first.path}`, first);
    const body = await reply.text();
    if (reply.status !== 200 || !body.includes("found")) {
      await mf.dispose();
      throw new Error(`workerd: first request answered HTTP ${reply.status} ${body}`);
    }
    const served: Served = { url, startupMs: performance.now() - started, pid: workerdPid(), stop: () => mf.dispose() };
    return served;
  }
  const { command: cmd, args } = command(name);
  const app = await startApp(cmd, args, {
    port,
    env: { SIGNING_SECRET: signingSecret, BENCH_INSTALLATIONS: String(installations) },
    timeoutMs: 30_000,
  });
  const served: Served = {
    url: app.url,
    startupMs: app.startupMs,
    pid: app.child.pid as number,
    stop: () => app.stop(),
  };
  return served;
}

function command(name: Exclude<Name, "workerd">): { command: string; args: string[] } {
  switch (name) {
    case "Node":
      return { command: process.execPath, args: [APP] };
    case "Bun":
      return { command: BUN.binary, args: [APP] };
    case "Deno":
      return {
        command: DENO.binary,
        args: ["run", "--cached-only", "--config", "bench/lib/deno.json", "--allow-net=127.0.0.1", "--allow-env", APP],
      };
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function measure(name: Name, round: number, seconds: number, installations: number): Promise<Result> {
  const signingSecret = randomBytes(16).toString("hex");
  const requests = signedCommands(signingSecret, 1000, installations);
  const first = requests[0]!;
  const app = await serve(name, signingSecret, installations, first);
  try {
    const http = new HttpClient();
    try {
      const reply = await http.request(`${app.url}${first.path}`, first);
      if (reply.status !== 200 || !reply.body.includes("found")) {
        throw new Error(`${name}: sanity request answered HTTP ${reply.status} ${reply.body}`);
      }
    } finally {
      http.close();
    }
    await autocannon({ url: app.url, connections: 16, duration: 2, requests });
    const cpuBefore = cpuMicros(app.pid);
    const r = await autocannon({ url: app.url, connections: 16, duration: seconds, requests });
    const cpu = cpuMicros(app.pid) - cpuBefore;
    return {
      runtime: name,
      round,
      startupMs: app.startupMs,
      requestsPerSecond: r.requests.total / r.duration,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      non2xx: r.non2xx,
      cpuMicrosPerRequest: cpu / Math.max(1, r.requests.total),
    };
  } finally {
    await app.stop();
  }
}

/** Runs the benchmark and prints its report; returns every measurement. */
export async function runRuntimesBench(
  options: { rounds?: number; seconds?: number; installations?: number } = {},
): Promise<Result[]> {
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const seconds = options.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const installations = options.installations ?? 1000;
  const available: Name[] = ["Node"];
  for (const rt of [DENO, BUN] as Runtime[]) {
    if (rt.error) console.log(`skipped ${rt.name}: ${rt.error}`);
    else available.push(rt.name);
  }
  available.push("workerd");
  // The app imports dist/: make sure it is current.
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
  console.log(machineLine("runtimes: the fetch handler on Node, Deno, Bun and workerd"));
  const workerd = JSON.parse(readFileSync("node_modules/workerd/package.json", "utf8")) as { version: string };
  console.log(
    `versions: node ${process.version}, ${DENO.version ?? "no deno"}, bun ${BUN.version ?? "-"}, workerd ${workerd.version} (Miniflare 3)`,
  );
  console.log(
    `${rounds} rounds; per runtime and round: start-up, then 2 s warm-up + ${seconds} s of signed /bench commands`,
  );
  const results: Result[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const name of available) {
      const r = await measure(name, round, seconds, installations);
      results.push(r);
      console.log(
        `  round ${round} ${name.padEnd(7)}  start-up ${fixed(r.startupMs, 0).padStart(5)} ms  ${int(r.requestsPerSecond).padStart(7)} commands/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  ${fixed(r.cpuMicrosPerRequest, 0)} µs CPU/command${r.non2xx ? `  non-2xx ${r.non2xx}` : ""}`,
      );
    }
  }
  const rows = available.map((name) => {
    const mine = results.filter((r) => r.runtime === name);
    const ratios = mine.map((r) => {
      const node = results.find((n) => n.runtime === "Node" && n.round === r.round)!;
      return {
        rps: r.requestsPerSecond / node.requestsPerSecond,
        startup: r.startupMs / node.startupMs,
        cpu: r.cpuMicrosPerRequest / node.cpuMicrosPerRequest,
      };
    });
    return [
      name,
      fixed(median(mine.map((r) => r.startupMs)), 0),
      fixed(median(ratios.map((x) => x.startup))),
      int(median(mine.map((r) => r.requestsPerSecond))),
      fixed(median(ratios.map((x) => x.rps))),
      fixed(median(mine.map((r) => r.cpuMicrosPerRequest)), 0),
      fixed(median(ratios.map((x) => x.cpu))),
      String(median(mine.map((r) => r.p50Ms))),
      String(median(mine.map((r) => r.p99Ms))),
      String(mine.reduce((n, r) => n + r.non2xx, 0)),
    ];
  });
  console.log("");
  printTable(
    ["runtime", "start-up ms", "÷ Node", "commands/s", "× Node", "µs CPU/cmd", "÷ Node", "p50 ms", "p99 ms", "non-2xx"],
    rows,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await runRuntimesBench();
