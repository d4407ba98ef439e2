/**
 * Install-flow benchmark: completed OAuth installs per second against the emulator, at concurrency 1 and
 * 16, for our `OAuthFlow` (durable SQLite state + installation stores, `SlackApiClient`) and for the
 * official `@slack/oauth` `InstallProvider` (its `FileInstallationStore`, durable too; stateless
 * signed-JWT state from `stateSecret`).
 *
 * One completed install = `GET /slack/install` (302 + state cookie, `directInstall` on both sides) →
 * `POST` of the emulator's consent form (`team`, `user`, `decision=allow`; the consent page itself is not
 * rendered) → 302 with a code → `GET` of the app's callback with the cookie → HTTP 200 success page.
 * During the callback each app calls `oauth.v2.access` and `auth.test` on the emulator. Installs cycle
 * over the emulator's 15 users (5 workspaces, 2 of them in an Enterprise Grid org).
 *
 * Each contender runs in its own child process (its own event loop; on 2 cores, a core to itself) with
 * its own emulator; the emulator and the load driver share this process. Besides installs/s, the table
 * shows the app process's CPU time per install (user + system, all its threads): the app-side cost,
 * independent of whether the app or the emulator + driver was the bottleneck, and of other load on the
 * machine; and the same for this process (emulator + driver).
 *
 * With `BENCH_BASELINE_DIST=/path/to/other/checkout/dist`, a third contender runs our flow loaded from that
 * build (say, the commit before a change); `BENCH_ROUNDS` measures every contender once per round, in turn,
 * and the ratios ours / baseline are printed per round. `BENCH_CONTENDERS=ours,base` measures only those.
 *
 * Run: `node --import tsx bench/callback.ts` (or through `bench/run.ts`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startEmulator } from "../src/emulator/index.js";
import type { CallbackAppConfig, CallbackContender, InstalledPair } from "./lib/callback-apps.js";
import { BenchChild, usageDelta } from "./lib/child.js";
import { HttpClient } from "./lib/http.js";
import { fixed, int, machineLine, percent, percentile, printTable } from "./lib/report.js";

/** One row of {@link runCallbackBench}. */
export interface CallbackResult {
  contender: CallbackContender;
  /** Which round (1-based): contenders are measured in turn, round after round. */
  round: number;
  concurrency: number;
  installs: number;
  installsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  /** Failure reasons and counts. */
  failureReasons: Record<string, number>;
  /** CPU time (user + system) of the app's process per completed install (ms). */
  appCpuMsPerInstall: number;
  /** Event-loop utilisation of the app's process during the run (0–1). */
  appUtilisation: number;
  /** CPU time of this process (emulator + driver) per completed install (ms). */
  driverCpuMsPerInstall: number;
  /** Event-loop utilisation of this process (emulator + driver) during the run (0–1). */
  driverUtilisation: number;
}

/** Options of {@link runCallbackBench}. */
export interface CallbackBenchOptions {
  /** Measured seconds per contender and concurrency (default 8). */
  seconds?: number;
  /** Warm-up seconds before each measurement (default 1.5). */
  warmupSeconds?: number;
  concurrencies?: number[];
  /** Rounds (default 1, or `BENCH_ROUNDS`): every contender is measured once per round, in turn. */
  rounds?: number;
}

/**
 * The contenders: `BENCH_CONTENDERS` (comma-separated) if set, else ours and InstallProvider — and, with
 * `BENCH_BASELINE_DIST` (another checkout's built `dist/`), the baseline next to ours.
 */
function contendersFromEnv(baselineDist: string | undefined): CallbackContender[] {
  const listed = process.env.BENCH_CONTENDERS?.split(",").map((t) => t.trim());
  if (listed) {
    const wrong = listed.filter((t) => !(ALL_CONTENDERS as string[]).includes(t));
    if (wrong.length > 0) {
      throw new Error(`BENCH_CONTENDERS: unknown ${wrong.join(", ")}; known: ${ALL_CONTENDERS.join(", ")}`);
    }
    return listed as CallbackContender[];
  }
  return baselineDist ? ["ours", "base", "install-provider"] : ["ours", "install-provider"];
}

const SCOPES = ["commands", "chat:write"];
const ALL_CONTENDERS: CallbackContender[] = ["ours", "base", "install-provider"];
const LABELS: Record<CallbackContender, string> = {
  ours: "ours (OAuthFlow + SQLite)",
  base: "baseline (BENCH_BASELINE_DIST)",
  "install-provider": "@slack/oauth InstallProvider (FileInstallationStore)",
};

interface Installer {
  teamId: string;
  userId: string;
  enterpriseId?: string | undefined;
}

/** One complete install through the app at `appUrl`; throws with a short reason on any unexpected answer. */
async function installOnce(http: HttpClient, appUrl: string, who: Installer): Promise<void> {
  const start = await http.request(`${appUrl}/slack/install`);
  const authorizeUrl = start.headers.location;
  const setCookie = start.headers["set-cookie"]?.[0];
  if (start.status !== 302 || !authorizeUrl || !setCookie) throw new Error(`install: HTTP ${start.status}`);
  const cookie = setCookie.split(";")[0] ?? "";
  const consent = await http.request(authorizeUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `team=${who.teamId}&user=${who.userId}&decision=allow`,
  });
  const callbackUrl = consent.headers.location;
  if (consent.status !== 302 || !callbackUrl) throw new Error(`consent: HTTP ${consent.status}`);
  if (!callbackUrl.startsWith(appUrl) || !callbackUrl.includes("code=")) throw new Error("consent: no code");
  const done = await http.request(callbackUrl, { headers: { cookie } });
  if (done.status !== 200) {
    const code = done.headers["x-slack-oauth-error"];
    throw new Error(`callback: HTTP ${done.status}${typeof code === "string" ? ` ${code}` : ""}`);
  }
}

interface PoolResult {
  installs: number;
  seconds: number;
  latenciesMs: Float64Array;
  failures: number;
  reasons: Record<string, number>;
}

/** Runs `concurrency` async workers doing installs back to back for `seconds`. */
async function pool(
  concurrency: number,
  seconds: number,
  one: (i: number) => Promise<void>,
  offset: number,
): Promise<PoolResult> {
  const latencies: number[] = [];
  const reasons: Record<string, number> = {};
  let failures = 0;
  let next = offset;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        await one(next++);
        latencies.push(performance.now() - started);
      } catch (error) {
        failures++;
        const reason = error instanceof Error ? error.message : String(error);
        reasons[reason] = (reasons[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const sorted = Float64Array.from(latencies).sort();
  return {
    installs: latencies.length,
    seconds: (performance.now() - t0) / 1000,
    latenciesMs: sorted,
    failures,
    reasons,
  };
}

async function benchContender(
  contender: CallbackContender,
  round: number,
  concurrencies: number[],
  seconds: number,
  warmupSeconds: number,
  baselineDist: string | undefined,
): Promise<CallbackResult[]> {
  const dir = await mkdtemp(join(tmpdir(), `slack-oauth-kit-bench-callback-${contender}-`));
  const app = await BenchChild.start(new URL("./lib/callback-apps.ts", import.meta.url), {
    kind: contender,
    dir,
    baselineDist,
  });
  const http = new HttpClient();
  let emulator: Awaited<ReturnType<typeof startEmulator>> | undefined;
  try {
    const { url: appUrl } = await app.call<{ url: string }>("listen");
    emulator = await startEmulator({
      appUrl,
      name: `Bench ${contender}`,
      rateLimits: { "oauth.v2.access": 1_000_000, "auth.test": 1_000_000 },
    });
    const config: CallbackAppConfig = {
      clientId: emulator.app.clientId,
      clientSecret: emulator.app.clientSecret,
      apiUrl: emulator.apiUrl,
      authorizeUrl: emulator.authorizeUrl,
      redirectUri: emulator.app.redirectUrls[0] ?? `${appUrl}/slack/oauth_redirect`,
      scopes: SCOPES,
    };
    await app.call("configure", config);
    const enterpriseOf = new Map(emulator.world.workspaces.map((w) => [w.id, w.enterpriseId]));
    const installers: Installer[] = emulator.world.users.map((u) => ({
      teamId: u.teamId,
      userId: u.id,
      enterpriseId: enterpriseOf.get(u.teamId),
    }));
    const one = (i: number): Promise<void> => installOnce(http, appUrl, installers[i % installers.length] as Installer);

    const results: CallbackResult[] = [];
    let offset = 0;
    for (const concurrency of concurrencies) {
      const warm = await pool(concurrency, warmupSeconds, one, offset);
      offset += warm.installs + warm.failures;
      const app0 = await app.usage();
      const mainElu0 = performance.eventLoopUtilization();
      const mainCpu0 = process.cpuUsage();
      const r = await pool(concurrency, seconds, one, offset);
      offset += r.installs + r.failures;
      const mainCpu = process.cpuUsage(mainCpu0);
      const mainElu = performance.eventLoopUtilization(mainElu0);
      const appUse = usageDelta(app0, await app.usage());
      results.push({
        contender,
        round,
        concurrency,
        installs: r.installs,
        installsPerSecond: r.installs / r.seconds,
        p50Ms: percentile(r.latenciesMs, 0.5),
        p99Ms: percentile(r.latenciesMs, 0.99),
        failures: r.failures + warm.failures,
        failureReasons: mergeCounts(warm.reasons, r.reasons),
        appCpuMsPerInstall: appUse.cpuMicros / 1000 / r.installs,
        appUtilisation: appUse.utilisation,
        driverCpuMsPerInstall: (mainCpu.user + mainCpu.system) / 1000 / r.installs,
        driverUtilisation: mainElu.utilization,
      });
    }
    const pairs: InstalledPair[] = installers.map((i) => ({ ...i }));
    const stored = await app.call<number>("verify", pairs);
    console.log(`  ${contender}: ${stored}/${pairs.length} installers found in its installation store afterwards`);
    return results;
  } finally {
    http.close();
    await app.stop();
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function mergeCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Runs the install-flow benchmark and prints a table.
 *
 * @example
 * ```ts
 * const rows = await runCallbackBench({ seconds: 8 });
 * ```
 */
export async function runCallbackBench(options: CallbackBenchOptions = {}): Promise<CallbackResult[]> {
  const seconds = options.seconds ?? 8;
  const warmupSeconds = options.warmupSeconds ?? 1.5;
  const concurrencies = options.concurrencies ?? [1, 16];
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 1);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error("rounds (BENCH_ROUNDS): a positive integer");
  const baselineDist = process.env.BENCH_BASELINE_DIST || undefined;
  const contenders = contendersFromEnv(baselineDist);
  console.log(machineLine("OAuth install (callback) benchmark"));
  console.log(
    `per contender and concurrency: ${warmupSeconds} s warm-up, then ${seconds} s measured; app in a child process, emulator + driver in this process; ${rounds} round(s), contenders in turn (reversed every other round)`,
  );
  const results: CallbackResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const c of round % 2 === 1 ? contenders : [...contenders].reverse()) {
      results.push(...(await benchContender(c, round, concurrencies, seconds, warmupSeconds, baselineDist)));
    }
  }

  console.log();
  printTable(
    [
      "contender",
      "round",
      "conc",
      "installs/s",
      "p50 ms",
      "p99 ms",
      "failures",
      "app CPU ms/install",
      "app busy",
      "emu+driver CPU ms/install",
      "emu+driver busy",
    ],
    results.map((r) => [
      LABELS[r.contender],
      String(r.round),
      String(r.concurrency),
      fixed(r.installsPerSecond, 1),
      fixed(r.p50Ms),
      fixed(r.p99Ms),
      int(r.failures),
      fixed(r.appCpuMsPerInstall, 3),
      percent(r.appUtilisation),
      fixed(r.driverCpuMsPerInstall, 3),
      percent(r.driverUtilisation),
    ]),
  );
  for (const r of results) {
    for (const [reason, n] of Object.entries(r.failureReasons)) {
      console.log(`  failures of ${r.contender} at ${r.concurrency}: ${n} × ${reason}`);
    }
  }
  const top = Math.max(...concurrencies);
  /** Per round at `concurrency`: `a`'s installs/s and app CPU per install over `b`'s; then the median round. */
  const ratios = (a: CallbackContender, b: CallbackContender, concurrency: number) => {
    const speed: number[] = [];
    const cpu: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const x = results.find((r) => r.contender === a && r.round === round && r.concurrency === concurrency);
      const y = results.find((r) => r.contender === b && r.round === round && r.concurrency === concurrency);
      if (x && y) {
        speed.push(x.installsPerSecond / y.installsPerSecond);
        cpu.push(x.appCpuMsPerInstall / y.appCpuMsPerInstall);
      }
    }
    return speed.length > 0 ? { speed, cpu } : undefined;
  };
  const times = (xs: number[]) => `${fixed(median(xs))}× median (rounds: ${xs.map((x) => `${fixed(x)}×`).join(", ")})`;
  const vsProvider = ratios("ours", "install-provider", top);
  if (vsProvider) {
    console.log(
      `ours / InstallProvider at concurrency ${top}: installs/s ${times(vsProvider.speed)}, app CPU time per install ${times(vsProvider.cpu)}`,
    );
  }
  for (const concurrency of concurrencies) {
    const vsBase = ratios("ours", "base", concurrency);
    if (vsBase) {
      console.log(
        `ours / baseline at concurrency ${concurrency}: installs/s ${times(vsBase.speed)}, app CPU time per install ${times(vsBase.cpu)}`,
      );
    }
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await runCallbackBench();
