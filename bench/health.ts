/**
 * Health-check benchmark: a sweep of `runHealthCheck` over installations in several workspaces, against the
 * emulator with its `auth.test` limit and window set so that the rate limit alone needs 30–60 s for the
 * layout. Prints that bound, the sweep's wall time and their ratio (goal ≤ 1.2×), the `429`s the emulator
 * answered against those the sweep waited out (every one must be honoured: each workspace calls again only
 * after its window has passed), and the heap during and after each round (it should stay flat).
 *
 * The bound: a workspace with `T` tokens and a limit of `L` calls per `S`-second window needs
 * `ceil(T / L)` windows; the first starts at once, so the limit alone costs `(ceil(T / L) - 1) × S` seconds,
 * whatever the concurrency (workspaces run in parallel). The contender is that bound, in every round.
 *
 * Environment: `BENCH_WORKSPACES` (default 20), `BENCH_USERS` (users per workspace, each with a user token;
 * default 8, so 9 tokens per workspace), `BENCH_LIMIT` (calls per window, default 2), `BENCH_WINDOW`
 * (seconds, default 10), `BENCH_ROUNDS` (default 2). The default layout's bound is 40 s.
 *
 * Run: `npm run bench -- health` (or `node --import tsx bench/health.ts`).
 */
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Emulator, startEmulator, type WorldSpec } from "../src/emulator/index.js";
import { runHealthCheck } from "../src/health/index.js";
import { installationFromV2Response } from "../src/model/index.js";
import { MemoryInstallationStore } from "../src/stores/memory.js";
import { fixed, int, machineLine, printTable } from "./lib/report.js";

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: a positive integer`);
  return n;
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapMb = () => process.memoryUsage().heapUsed / 1024 / 1024;

const teamOf = (i: number) => `T${String(i).padStart(10, "0")}`;
const userOf = (i: number, u: number) => `U${String(i * 100 + u).padStart(10, "0")}`;

function world(workspaces: number, users: number): WorldSpec {
  const ws = Array.from({ length: workspaces }, (_, k) => ({
    id: teamOf(k + 1),
    name: `Team ${k + 1}`,
    domain: `t${k + 1}`,
  }));
  return {
    workspaces: ws,
    users: ws.flatMap((w, k) =>
      Array.from({ length: users }, (_, u) => ({
        id: userOf(k + 1, u + 1),
        teamId: w.id,
        name: `u${k + 1}-${u + 1}`,
        isAdmin: u === 0,
      })),
    ),
  };
}

/** Installs the app as `user` of `team` through the consent form and `oauth.v2.access`. */
async function install(emu: Emulator, team: string, user: string) {
  const params = new URLSearchParams({ client_id: emu.app.clientId, scope: "commands", user_scope: "identify" });
  const url = `${emu.url}/oauth/v2/authorize?${params}`;
  const res = await fetch(url, {
    method: "POST",
    body: new URLSearchParams({ decision: "allow", team, user }),
    redirect: "manual",
  });
  await res.arrayBuffer();
  const code = new URL(res.headers.get("location") ?? "").searchParams.get("code");
  if (!code) throw new Error(`consent gave no code (${res.status})`);
  const reply = (await (
    await fetch(`${emu.apiUrl}oauth.v2.access`, {
      method: "POST",
      body: new URLSearchParams({ client_id: emu.app.clientId, client_secret: emu.app.clientSecret, code }),
    })
  ).json()) as Record<string, unknown>;
  if (reply.ok !== true) throw new Error(`install failed: ${String(reply.error)}`);
  return installationFromV2Response(reply as never);
}

/** One row of the report. */
export interface HealthBenchRound {
  round: number;
  tokens: number;
  boundSeconds: number;
  sweepSeconds: number;
  ratio: number;
  answered429: number;
  waited429: number;
  /** Calls a workspace made while its window was still full after a 429 it had been told about. */
  dishonoured: number;
  ok: number;
  heapBeforeMb: number;
  heapPeakMb: number;
  heapAfterMb: number;
}

export async function runHealthBench(): Promise<HealthBenchRound[]> {
  const workspaces = envInt("BENCH_WORKSPACES", 20);
  const users = envInt("BENCH_USERS", 8);
  const limit = envInt("BENCH_LIMIT", 2);
  const windowSeconds = envInt("BENCH_WINDOW", 10);
  const rounds = envInt("BENCH_ROUNDS", 2);
  const perWorkspace = 2;
  const tokensPerWorkspace = users + 1;
  const bound = (Math.ceil(tokensPerWorkspace / limit) - 1) * windowSeconds;
  console.log(machineLine("health: runHealthCheck sweep vs the rate-limit bound"));
  console.log(
    `layout: ${workspaces} workspaces × ${tokensPerWorkspace} tokens (bot + ${users} users) = ${workspaces * tokensPerWorkspace} tokens; auth.test ${limit} per ${windowSeconds} s per workspace → bound ${bound} s`,
  );
  const emu = await startEmulator({ appUrl: "http://127.0.0.1:9", world: world(workspaces, users) });
  const store = new MemoryInstallationStore();
  try {
    for (let i = 1; i <= workspaces; i++)
      for (let u = 1; u <= users; u++) await store.save(await install(emu, teamOf(i), userOf(i, u)));
    const results: HealthBenchRound[] = [];
    for (let round = 1; round <= rounds; round++) {
      emu.setRateLimit("auth.test", limit, windowSeconds); // fresh windows for every round
      const logStart = emu.calls("auth.test").length;
      gc();
      const heapBefore = heapMb();
      let peak = heapBefore;
      const sampler = setInterval(() => {
        peak = Math.max(peak, heapMb());
      }, 200);
      const started = performance.now();
      const report = await runHealthCheck({
        installationStore: store,
        apiUrl: emu.apiUrl,
        concurrency: 16,
        perWorkspaceConcurrency: perWorkspace,
        maxRateLimitWaitSeconds: 600,
      });
      const sweep = (performance.now() - started) / 1000;
      clearInterval(sampler);
      gc();
      const log = emu.calls("auth.test", { details: true }).slice(logStart);
      const answered429 = log.filter((c) => c.error === "ratelimited").length;
      // Honoured: once a workspace has been told 429, it sends nothing more until its window is over. The
      // emulator's window restarts at the first call after it ran out; within one window at most
      // `perWorkspace` calls can meet a 429 (the one that first met it and those already in flight).
      let dishonoured = 0;
      const byTeam = new Map<string, number[][]>();
      for (const c of log) {
        const list = byTeam.get(c.teamId ?? "") ?? [];
        list.push([c.at ?? 0, c.error === "ratelimited" ? 1 : 0]);
        byTeam.set(c.teamId ?? "", list);
      }
      for (const calls of byTeam.values()) {
        let windowStart = Number.NEGATIVE_INFINITY;
        let limited = 0;
        for (const [at = 0, was429 = 0] of calls) {
          if (at - windowStart >= windowSeconds * 1000) {
            windowStart = at;
            limited = 0;
          }
          if (was429 === 1 && ++limited > perWorkspace) dishonoured++;
        }
      }
      results.push({
        round,
        tokens: report.items.length,
        boundSeconds: bound,
        sweepSeconds: sweep,
        ratio: sweep / bound,
        answered429,
        waited429: report.rateLimited,
        dishonoured,
        ok: report.counts.ok,
        heapBeforeMb: heapBefore,
        heapPeakMb: peak,
        heapAfterMb: heapMb(),
      });
    }
    printTable(
      [
        "round",
        "tokens",
        "ok",
        "bound s",
        "sweep s",
        "ratio",
        "429 answered",
        "429 waited out",
        "not honoured",
        "heap MB before / peak / after",
      ],
      results.map((r) => [
        String(r.round),
        int(r.tokens),
        int(r.ok),
        fixed(r.boundSeconds, 1),
        fixed(r.sweepSeconds, 1),
        `${fixed(r.ratio, 3)}×`,
        int(r.answered429),
        int(r.waited429),
        int(r.dishonoured),
        `${fixed(r.heapBeforeMb, 1)} / ${fixed(r.heapPeakMb, 1)} / ${fixed(r.heapAfterMb, 1)}`,
      ]),
    );
    const worst = Math.max(...results.map((r) => r.ratio));
    console.log(`worst ratio ${fixed(worst, 3)}× (goal ≤ 1.2×)`);
    return results;
  } finally {
    await emu.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runHealthBench();
