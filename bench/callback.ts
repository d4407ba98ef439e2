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
}

const SCOPES = ["commands", "chat:write"];
const CONTENDERS: CallbackContender[] = ["ours", "install-provider"];
const LABELS: Record<CallbackContender, string> = {
  ours: "ours (OAuthFlow + SQLite)",
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
  concurrencies: number[],
  seconds: number,
  warmupSeconds: number,
): Promise<CallbackResult[]> {
  const dir = await mkdtemp(join(tmpdir(), `slack-oauth-kit-bench-callback-${contender}-`));
  const app = await BenchChild.start(new URL("./lib/callback-apps.ts", import.meta.url), { kind: contender, dir });
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
  console.log(machineLine("OAuth install (callback) benchmark"));
  console.log(
    `per contender and concurrency: ${warmupSeconds} s warm-up, then ${seconds} s measured; app in a child process, emulator + driver in this process`,
  );
  const results: CallbackResult[] = [];
  for (const c of CONTENDERS) results.push(...(await benchContender(c, concurrencies, seconds, warmupSeconds)));

  console.log();
  printTable(
    [
      "contender",
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
  const ours = results.find((r) => r.contender === "ours" && r.concurrency === top);
  const theirs = results.find((r) => r.contender === "install-provider" && r.concurrency === top);
  if (ours && theirs) {
    console.log(
      `ours / InstallProvider at concurrency ${top}: installs/s ${fixed(ours.installsPerSecond / theirs.installsPerSecond)}×, app CPU time per install ${fixed(ours.appCpuMsPerInstall / theirs.appCpuMsPerInstall)}×`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await runCallbackBench();
