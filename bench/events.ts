/**
 * Request-endpoint benchmark: signed slash commands per second through four endpoints, with autocannon
 * (16 connections, 10 s each after a 2 s warm-up), plus a micro-benchmark of `SignatureVerifier.verify`
 * against a raw `createHmac` + `timingSafeEqual` on the same 300-byte body.
 *
 * On a small shared machine one 10-second sample swings by ±10 %, so the targets are measured in turn
 * for several rounds (3 by default, `BENCH_ROUNDS`): each ratio is taken within a round (the same
 * minute of machine load for both sides) and the median round is reported, with every round shown.
 *
 * Targets (each on its own 127.0.0.1:0 server, each in its own child process while autocannon runs in
 * this one — on 2 cores, one core each):
 * - floor: raw `node:http` + HMAC check;
 * - ours, warm cache: `SlackRequestHandler` + `createAuthorize(CachingInstallationStore(SQLite))`;
 * - ours, cold cache: the same over the plain SQLite store (two indexed queries per request);
 * - ours, warm cache, metrics on (`ours-metrics`): the same as warm, with `slack-oauth-kit/metrics/prometheus`
 *   counting every request and timing every `authorize` (target: ≥ 0.95× metrics off, median of the rounds);
 * - two apps (`ours-apps`): one server with two apps, as the reference server serves `SLACK_APPS_FILE` (each
 *   app's handler with its own signing secret over its own SQLite partition, warm cache, on its own events
 *   path), the requests alternating between the two apps (target: ≥ 0.95× ours-warm, median of the rounds);
 *   `ours-apps-shared`: the same two apps on the shared `/slack/events`, routed by `api_app_id`;
 * - Bolt: `@slack/bolt` `App` + `HTTPReceiver` + `InstallProvider` authorize over its `MemoryInstallationStore`;
 * - with `BENCH_BASELINE_DIST=/path/to/other/checkout/dist`: baseline warm and cold, the same as ours loaded
 *   from that build (say, the commit before a change), measured in the same rounds; the ratios
 *   ours / baseline are printed per round. `BENCH_TARGETS=ours-warm,base-warm` measures only those.
 *
 * The SQLite file holds 10,000 installations (filled with `store.save` in a loop; the time is printed) and
 * Bolt's memory store the same 10,000. The requests cycle over 1,000 distinct signed bodies, from 1,000
 * of those workspaces, each typed by the workspace's installing user, signed when the target starts.
 *
 * autocannon records latencies in whole milliseconds, so p50/p99 are coarse; the table adds the mean
 * latency from Little's law (connections ÷ req/s) and the target process's CPU time per request (user +
 * system, all its threads), which does not depend on other load on the machine.
 *
 * Run: `node --import tsx bench/events.ts` (or through `bench/run.ts`). `BENCH_SECONDS` / `BENCH_WARMUP_SECONDS`
 * change the 10 s / 2 s per target: on a busy machine, many short rounds (`BENCH_ROUNDS=15 BENCH_SECONDS=3`)
 * give a steadier median than a few long ones.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { createAuthorize } from "../src/authorize/authorize.js";
import { SlackAppRouter } from "../src/events/app-router.js";
import { type RawSlackRequest, SlackRequestHandler } from "../src/events/handler.js";
import type { MetricsOptions } from "../src/metrics/hooks.js";
import { PrometheusMetrics } from "../src/metrics/prometheus.js";
import { silentLogger } from "../src/redact.js";
import { SignatureSigner, SignatureVerifier } from "../src/signature/signature.js";
import { CachingInstallationStore } from "../src/stores/cache.js";
import { MemoryInstallationStore } from "../src/stores/memory.js";
import { SQLiteInstallationStore } from "../src/stores/sqlite.js";
import { BenchChild, usageDelta } from "./lib/child.js";
import type { EventsTarget, EventsTargetData, ListenInfo } from "./lib/events-targets.js";
import {
  APP_EVENTS_PATHS,
  BENCH_APP_ID,
  ourInstallation,
  SECOND_APP,
  type SignedRequest,
  signedCommands,
  slashCommandBody,
} from "./lib/fixtures.js";
import { HttpClient } from "./lib/http.js";
import { fixed, int, machineLine, percent, printTable } from "./lib/report.js";

/** One row of {@link runEventsBench}. */
export interface EventsResult {
  target: EventsTarget;
  /** Which round (1-based): targets are measured in turn, round after round. */
  round: number;
  /** Completed requests ÷ measured duration. */
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Mean latency by Little's law: connections ÷ req/s (ms). */
  meanMs: number;
  non2xx: number;
  errors: number;
  /** CPU time (user + system) of the target's process per request (µs). */
  cpuMicrosPerRequest: number;
  /** Event-loop utilisation of the target's process during the measurement (0–1). */
  targetUtilisation: number;
}

/** Result of the signature micro-benchmark. */
export interface VerifyResult {
  verifyOpsPerSecond: number;
  rawOpsPerSecond: number;
}

/** Options of {@link runEventsBench}. */
export interface EventsBenchOptions {
  /** Measured seconds per target (default 10). */
  seconds?: number;
  /** Warm-up seconds per target (default 2). */
  warmupSeconds?: number;
  /** autocannon connections (default 16). */
  connections?: number;
  /** Installations in the stores (default 10,000). */
  installations?: number;
  /** Distinct signed bodies / workspaces the requests cycle over (default 1,000). */
  distinctRequests?: number;
  /**
   * Rounds (default 3, or `BENCH_ROUNDS`): every target is measured once per round, in turn, so that
   * drift in the machine's load hits all of them alike; ratios are taken within a round and the median
   * round is reported.
   */
  rounds?: number;
  targets?: EventsTarget[];
}

const LABELS: Record<EventsTarget, string> = {
  floor: "floor (node:http + HMAC)",
  "ours-warm": "ours, warm cache (SlackRequestHandler + CachingInstallationStore(SQLite))",
  "ours-cold": "ours, cold cache (SlackRequestHandler + SQLite)",
  "ours-metrics": "ours, warm cache, Prometheus metrics on",
  "ours-apps": "ours, two apps in one server (own paths), requests alternating",
  "ours-apps-shared": "ours, two apps on one /slack/events (SlackAppRouter), alternating",
  "base-warm": "baseline, warm cache (BENCH_BASELINE_DIST)",
  "base-cold": "baseline, cold cache (BENCH_BASELINE_DIST)",
  bolt: "Bolt (App + HTTPReceiver + InstallProvider/MemoryInstallationStore)",
};

/* ------------------------------------------------------------------------------------------------ */
/* Signature micro-benchmark                                                                        */
/* ------------------------------------------------------------------------------------------------ */

/** ops/s of `fn` over about `ms` milliseconds, in batches (the timer is read once per batch). */
function opsPerSecond(fn: () => boolean, ms: number): number {
  let ops = 0;
  let sink = 0;
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < ms) {
    for (let k = 0; k < 500; k++) if (fn()) sink++;
    ops += 500;
    now = performance.now();
  }
  if (sink !== ops) throw new Error("signature micro-benchmark: a valid signature was refused");
  return ops / ((now - t0) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** `SignatureVerifier.verify` vs a raw `createHmac` + `timingSafeEqual` on the same 300-byte body. */
export function runVerifyMicroBench(secret: string, rounds = 7, roundMs = 300): VerifyResult {
  const body = Buffer.from(slashCommandBody(42).padEnd(300, "x").slice(0, 300));
  if (body.length !== 300) throw new Error("body must be 300 bytes");
  const { signature, timestamp } = new SignatureSigner(secret).sign(body);
  const verifier = new SignatureVerifier(secret);
  const verify = (): boolean => verifier.verify(timestamp, signature, body);
  const raw = (): boolean => {
    const expected = Buffer.from(
      `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:`).update(body).digest("hex")}`,
    );
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  };
  opsPerSecond(verify, 200); // warm-up (JIT)
  opsPerSecond(raw, 200);
  const v: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Interleaved, so drift in machine load hits both alike.
    v.push(opsPerSecond(verify, roundMs));
    r.push(opsPerSecond(raw, roundMs));
  }
  return { verifyOpsPerSecond: median(v), rawOpsPerSecond: median(r) };
}

const ALL_TARGETS: EventsTarget[] = [
  "floor",
  "ours-warm",
  "ours-metrics",
  "ours-apps",
  "ours-apps-shared",
  "ours-cold",
  "base-warm",
  "base-cold",
  "bolt",
];

/**
 * The targets: `BENCH_TARGETS` (comma-separated) if set, else floor, ours-warm, ours-cold, bolt — and,
 * with `BENCH_BASELINE_DIST` (another checkout's built `dist/`), base-warm and base-cold next to ours.
 */
function targetsFromEnv(baselineDist: string | undefined): EventsTarget[] {
  const listed = process.env.BENCH_TARGETS?.split(",").map((t) => t.trim());
  if (listed) {
    const wrong = listed.filter((t) => !(ALL_TARGETS as string[]).includes(t));
    if (wrong.length > 0)
      throw new Error(`BENCH_TARGETS: unknown ${wrong.join(", ")}; known: ${ALL_TARGETS.join(", ")}`);
    return listed as EventsTarget[];
  }
  return baselineDist
    ? ["floor", "ours-warm", "base-warm", "ours-cold", "base-cold", "bolt"]
    : ["floor", "ours-warm", "ours-metrics", "ours-apps", "ours-apps-shared", "ours-cold", "bolt"];
}

/** Result of the in-process metrics micro-benchmark (`handleRaw` + `authorize`, no sockets). */
export interface MetricsMicroResult {
  offOpsPerSecond: number;
  onOpsPerSecond: number;
  /** Per round, on ÷ off. */
  ratios: number[];
}

/**
 * The handler's hot path in one process, without sockets: `SlackRequestHandler.handleRaw` of signed slash
 * commands whose handler awaits `authorize()` over a warm `CachingInstallationStore`, metrics off vs on
 * (Prometheus), interleaved in short rounds so that load on a shared machine hits both alike.
 */
export async function runMetricsMicroBench(
  secret: string,
  rounds = 9,
  roundMs = 400,
  installations = 1_000,
): Promise<MetricsMicroResult> {
  const store = new CachingInstallationStore(new MemoryInstallationStore(), { maxEntries: installations * 2 });
  for (let i = 0; i < installations; i++) await store.save(ourInstallation(i));
  const requests = signedCommands(secret, installations, installations).map((r) => ({
    method: "POST",
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: Buffer.from(r.body),
    url: `http://127.0.0.1${r.path}`,
    headerNamesLowerCase: true,
  }));
  const handler = (metrics: MetricsOptions | undefined) =>
    new SlackRequestHandler({
      signingSecret: secret,
      authorize: createAuthorize({ installationStore: store, metrics }),
      installationStore: store,
      logger: silentLogger,
      metrics,
      onCommand: async (req) => {
        await req.authorize();
      },
    });
  const off = handler(undefined);
  const on = handler(new PrometheusMetrics().forApp("1111111111.2222222222222"));
  /** Requests per CPU-second of this process (user + system): time spent descheduled by other load is not counted. */
  const run = async (h: SlackRequestHandler, ms: number): Promise<number> => {
    let ops = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    while (performance.now() - t0 < ms) {
      for (let k = 0; k < 200; k++) {
        const reply = await h.handleRaw(requests[(ops + k) % requests.length] as (typeof requests)[number]);
        if (reply.status !== 200) throw new Error(`metrics micro-benchmark: HTTP ${reply.status}`);
      }
      ops += 200;
    }
    const cpu = process.cpuUsage(cpu0);
    return ops / ((cpu.user + cpu.system) / 1e6);
  };
  await run(off, 300); // warm-up (JIT, cache)
  await run(on, 300);
  const offs: number[] = [];
  const ons: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternating which goes first, so that neither always runs after the other's garbage.
    let offRate: number;
    let onRate: number;
    if (i % 2 === 0) {
      offRate = await run(off, roundMs);
      onRate = await run(on, roundMs);
    } else {
      onRate = await run(on, roundMs);
      offRate = await run(off, roundMs);
    }
    offs.push(offRate);
    ons.push(onRate);
    ratios.push(onRate / offRate);
  }
  return { offOpsPerSecond: median(offs), onOpsPerSecond: median(ons), ratios };
}

/** Result of the in-process apps micro-benchmark: one app vs two apps behind `SlackAppRouter`. */
export interface AppsMicroResult {
  oneOpsPerSecond: number;
  twoOpsPerSecond: number;
  /** Per round, two apps ÷ one app. */
  ratios: number[];
}

/**
 * Several apps in one deployment, in one process without sockets: signed slash commands whose handler
 * awaits `authorize()` over a warm cache. One app: its `SlackRequestHandler` alone (as a single-app
 * deployment serves it). Two apps: a `SlackAppRouter` over two handlers (each with its own signing secret,
 * and its own partition of one memory store), the requests alternating between the apps. Per CPU-second,
 * interleaved rounds.
 */
export async function runAppsMicroBench(rounds = 9, roundMs = 400, installations = 1_000): Promise<AppsMicroResult> {
  const root = new MemoryInstallationStore();
  const appIds = [BENCH_APP_ID, "A0BENCHAPP2"];
  const apps = await Promise.all(
    appIds.map(async (appId, n) => {
      const secret = randomBytes(16).toString("hex");
      const store = new CachingInstallationStore(root.forApp(`${n + 1}111111111.2222222222222`), {
        maxEntries: installations * 2,
      });
      for (let i = 0; i < installations; i++) await store.save({ ...ourInstallation(i), appId });
      const handler = new SlackRequestHandler({
        appId,
        signingSecret: secret,
        authorize: createAuthorize({ installationStore: store }),
        installationStore: store,
        logger: silentLogger,
        onCommand: async (req) => {
          await req.authorize();
        },
      });
      const signer = new SignatureSigner(secret);
      const requests: RawSlackRequest[] = Array.from({ length: installations }, (_, i) => {
        const body = slashCommandBody(i).replace(`api_app_id=${BENCH_APP_ID}`, `api_app_id=${appId}`);
        const headers = Object.fromEntries(
          Object.entries({ "content-type": "application/x-www-form-urlencoded", ...signer.headers(body) }).map(
            ([k, v]) => [k.toLowerCase(), v],
          ),
        );
        return {
          method: "POST",
          headers,
          body: Buffer.from(body),
          url: "http://127.0.0.1/slack/events",
          headerNamesLowerCase: true,
        };
      });
      return { handler, requests };
    }),
  );
  const [a, b] = apps as [(typeof apps)[number], (typeof apps)[number]];
  const router = new SlackAppRouter({ handlers: [a.handler, b.handler], logger: silentLogger });
  const mixed = a.requests.flatMap((r, i) => [r, b.requests[i] as RawSlackRequest]);
  const run = async (
    h: { handleRaw(r: RawSlackRequest): Promise<{ status: number }> },
    requests: RawSlackRequest[],
    ms: number,
  ) => {
    let ops = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    while (performance.now() - t0 < ms) {
      for (let k = 0; k < 200; k++) {
        const reply = await h.handleRaw(requests[(ops + k) % requests.length] as RawSlackRequest);
        if (reply.status !== 200) throw new Error(`apps micro-benchmark: HTTP ${reply.status}`);
      }
      ops += 200;
    }
    const cpu = process.cpuUsage(cpu0);
    return ops / ((cpu.user + cpu.system) / 1e6);
  };
  const one = (ms: number) => run(a.handler, a.requests, ms);
  const two = (ms: number) => run(router, mixed, ms);
  await one(300); // warm-up (JIT, caches)
  await two(300);
  const ones: number[] = [];
  const twos: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternating which goes first, so that neither always runs after the other's garbage.
    let oneRate: number;
    let twoRate: number;
    if (i % 2 === 0) {
      oneRate = await one(roundMs);
      twoRate = await two(roundMs);
    } else {
      twoRate = await two(roundMs);
      oneRate = await one(roundMs);
    }
    ones.push(oneRate);
    twos.push(twoRate);
    ratios.push(twoRate / oneRate);
  }
  return { oneOpsPerSecond: median(ones), twoOpsPerSecond: median(twos), ratios };
}

/* ------------------------------------------------------------------------------------------------ */
/* HTTP targets                                                                                     */
/* ------------------------------------------------------------------------------------------------ */

async function prefillSqlite(file: string, n: number, app?: { clientId: string; appId: string }): Promise<number> {
  const store = new SQLiteInstallationStore({ filename: file, clientId: app?.clientId });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await store.save(app ? { ...ourInstallation(i), appId: app.appId } : ourInstallation(i));
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  return seconds;
}

async function cannon(url: string, requests: SignedRequest[], connections: number, seconds: number) {
  return autocannon({ url, connections, duration: seconds, requests });
}

type BenchOptions = Required<Omit<EventsBenchOptions, "targets">>;

/**
 * The two-app targets' requests: the same workspaces as {@link signedCommands}, every other one for the
 * second app (its `api_app_id`, signed with its secret), on each app's path or the shared one.
 */
function alternatingCommands(
  kind: "ours-apps" | "ours-apps-shared",
  base: Omit<EventsTargetData, "kind">,
  o: BenchOptions,
): SignedRequest[] {
  const first = signedCommands(base.signingSecret, o.distinctRequests, o.installations);
  const second = signedCommands(base.secondSigningSecret, o.distinctRequests, o.installations, SECOND_APP.appId);
  return first.map((r, k) => {
    const app = k % 2;
    const chosen = app === 0 ? r : (second[k] as SignedRequest);
    return { ...chosen, path: kind === "ours-apps" ? (APP_EVENTS_PATHS[app] as string) : chosen.path };
  });
}

async function benchTarget(
  kind: EventsTarget,
  round: number,
  base: Omit<EventsTargetData, "kind">,
  o: BenchOptions,
): Promise<EventsResult> {
  const target = await BenchChild.start(new URL("./lib/events-targets.ts", import.meta.url), {
    ...base,
    kind,
  } satisfies EventsTargetData);
  try {
    return await measureTarget(target, kind, round, base, o);
  } finally {
    await target.stop();
  }
}

/** Starts the target's server, checks one request by hand, warms it up and measures it. */
async function measureTarget(
  target: BenchChild,
  kind: EventsTarget,
  round: number,
  base: Omit<EventsTargetData, "kind">,
  o: BenchOptions,
): Promise<EventsResult> {
  const info = await target.call<ListenInfo>("listen");
  if (info.prefillMs !== undefined && round === 1) {
    console.log(
      `  ${kind}: ${int(o.installations)} installations stored with storeInstallation in ${fixed(info.prefillMs / 1000)} s`,
    );
  }
  const requests =
    kind === "ours-apps" || kind === "ours-apps-shared"
      ? alternatingCommands(kind, base, o)
      : signedCommands(base.signingSecret, o.distinctRequests, o.installations);
  // One request by hand first: a target that refuses valid requests must not be measured.
  const http = new HttpClient();
  try {
    const first = requests[0] as SignedRequest;
    const reply = await http.request(`${info.url}${first.path}`, first);
    if (reply.status !== 200) throw new Error(`${kind}: sanity request answered HTTP ${reply.status} ${reply.body}`);
  } finally {
    http.close();
  }
  await cannon(info.url, requests, o.connections, o.warmupSeconds);
  const before = await target.usage();
  const r = await cannon(info.url, requests, o.connections, o.seconds);
  const use = usageDelta(before, await target.usage());
  // Completed requests over the measured duration. (autocannon's `requests.mean` averages its 1-second
  // samples, and a trailing near-empty sample can pull it ~10 % below the true rate.)
  const requestsPerSecond = r.requests.total / r.duration;
  return {
    target: kind,
    round,
    requestsPerSecond,
    requests: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    meanMs: (o.connections / requestsPerSecond) * 1000,
    non2xx: r.non2xx,
    errors: r.errors,
    cpuMicrosPerRequest: use.cpuMicros / r.requests.total,
    targetUtilisation: use.utilisation,
  };
}

/**
 * Runs the micro-benchmark and the four HTTP targets, and prints the tables and ratios.
 *
 * @example
 * ```ts
 * const { targets, verify } = await runEventsBench({ seconds: 10 });
 * ```
 */
export async function runEventsBench(
  options: EventsBenchOptions = {},
): Promise<{ targets: EventsResult[]; verify: VerifyResult; prefillSeconds: number }> {
  const o = {
    seconds: options.seconds ?? Number(process.env.BENCH_SECONDS ?? 10),
    warmupSeconds: options.warmupSeconds ?? Number(process.env.BENCH_WARMUP_SECONDS ?? 2),
    connections: options.connections ?? 16,
    installations: options.installations ?? 10_000,
    distinctRequests: options.distinctRequests ?? 1_000,
    rounds: options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3),
  };
  if (!(Number.isInteger(o.rounds) && o.rounds >= 1)) throw new Error("rounds (BENCH_ROUNDS): a positive integer");
  if (!(o.seconds >= 1 && o.warmupSeconds >= 0))
    throw new Error("BENCH_SECONDS (>= 1) and BENCH_WARMUP_SECONDS (>= 0): seconds per target");
  const baselineDist = process.env.BENCH_BASELINE_DIST || undefined;
  const targets = options.targets ?? targetsFromEnv(baselineDist);
  const signingSecret = randomBytes(16).toString("hex");
  const secondSigningSecret = randomBytes(16).toString("hex");
  console.log(machineLine("Signed slash command benchmark"));

  const verify = runVerifyMicroBench(signingSecret);
  const micro = await runMetricsMicroBench(signingSecret);
  const apps = await runAppsMicroBench();
  console.log(
    `apps micro-benchmark (handleRaw + authorize, warm cache, no sockets; 9 interleaved rounds, per CPU-second): one app ${int(apps.oneOpsPerSecond)} ops/s, two apps behind SlackAppRouter ${int(apps.twoOpsPerSecond)} ops/s; two / one ${fixed(median(apps.ratios), 3)}× median (rounds: ${apps.ratios.map((x) => fixed(x, 3)).join(", ")})`,
  );
  console.log(
    `metrics micro-benchmark (handleRaw + authorize, warm cache, no sockets; 9 interleaved rounds, per CPU-second): off ${int(micro.offOpsPerSecond)} ops/s, on ${int(micro.onOpsPerSecond)} ops/s; on / off ${fixed(median(micro.ratios), 3)}× median (rounds: ${micro.ratios.map((x) => fixed(x, 3)).join(", ")})`,
  );
  console.log(
    `signature micro-benchmark (300-byte body, median of 7 interleaved rounds): SignatureVerifier.verify ${int(verify.verifyOpsPerSecond)} ops/s, raw createHmac + timingSafeEqual ${int(verify.rawOpsPerSecond)} ops/s`,
  );

  const dir = await mkdtemp(join(tmpdir(), "slack-oauth-kit-bench-events-"));
  const results: EventsResult[] = [];
  let prefillSeconds = Number.NaN;
  try {
    const dbFile = join(dir, "slack.db");
    if (targets.some((t) => t.startsWith("ours") || t.startsWith("base"))) {
      prefillSeconds = await prefillSqlite(dbFile, o.installations);
      console.log(
        `SQLite pre-fill: ${int(o.installations)} installations with store.save in a loop in ${fixed(prefillSeconds)} s (${int(o.installations / prefillSeconds)} saves/s)`,
      );
      if (targets.some((t) => t.startsWith("ours-apps"))) {
        const second = await prefillSqlite(dbFile, o.installations, SECOND_APP);
        console.log(
          `SQLite pre-fill, second app's partition (client id ${SECOND_APP.clientId}): ${int(o.installations)} installations in ${fixed(second)} s`,
        );
      }
    }
    console.log(
      `autocannon: ${o.connections} connections, ${o.warmupSeconds} s warm-up + ${o.seconds} s per target, cycling over ${int(o.distinctRequests)} signed bodies; ${o.rounds} round(s), targets in turn (reversed every other round)`,
    );
    for (let round = 1; round <= o.rounds; round++) {
      // Every other round in reverse order, so that no target always runs right after the same neighbour.
      for (const kind of round % 2 === 1 ? targets : [...targets].reverse()) {
        results.push(
          await benchTarget(
            kind,
            round,
            { signingSecret, secondSigningSecret, dbFile, installations: o.installations, baselineDist },
            { ...o },
          ),
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  console.log();
  printTable(
    ["target", "round", "req/s", "requests", "p50 ms", "p99 ms", "mean ms", "non-2xx", "errors", "CPU µs/req", "busy"],
    results.map((r) => [
      LABELS[r.target],
      String(r.round),
      int(r.requestsPerSecond),
      int(r.requests),
      fixed(r.p50Ms),
      fixed(r.p99Ms),
      fixed(r.meanMs, 3),
      int(r.non2xx),
      int(r.errors),
      fixed(r.cpuMicrosPerRequest, 1),
      percent(r.targetUtilisation),
    ]),
  );
  /** Per round, `a`'s req/s over `b`'s; then the median round. */
  const ratio = (a: EventsTarget, b: EventsTarget): { median: number; all: number[] } | undefined => {
    const all: number[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const x = results.find((r) => r.target === a && r.round === round);
      const y = results.find((r) => r.target === b && r.round === round);
      if (x && y) all.push(x.requestsPerSecond / y.requestsPerSecond);
    }
    return all.length > 0 ? { median: median(all), all } : undefined;
  };
  const rounds = (r: { all: number[] }, f: (x: number) => string) => `rounds: ${r.all.map(f).join(", ")}`;
  const warmFloor = ratio("ours-warm", "floor");
  if (warmFloor) {
    console.log(
      `ours-warm / floor: ${percent(warmFloor.median)} median (${rounds(warmFloor, percent)}) (target ≥ 80 %): ${warmFloor.median >= 0.8 ? "ok" : "BELOW TARGET"}`,
    );
  }
  const coldFloor = ratio("ours-cold", "floor");
  if (coldFloor) console.log(`ours-cold / floor: ${percent(coldFloor.median)} median (${rounds(coldFloor, percent)})`);
  const metricsOn = ratio("ours-metrics", "ours-warm");
  if (metricsOn) {
    console.log(
      `ours-metrics / ours-warm (metrics on / off), req/s: ${fixed(metricsOn.median, 3)}× median (${rounds(metricsOn, (x) => `${fixed(x, 3)}×`)}) (target ≥ 0.95×): ${metricsOn.median >= 0.95 ? "ok" : "BELOW TARGET"}`,
    );
    // Requests per CPU-second of the target process: what load from other processes moves least.
    const perCpu: number[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const on = results.find((r) => r.target === "ours-metrics" && r.round === round);
      const off = results.find((r) => r.target === "ours-warm" && r.round === round);
      if (on && off) perCpu.push(off.cpuMicrosPerRequest / on.cpuMicrosPerRequest);
    }
    console.log(
      `ours-metrics / ours-warm (metrics on / off), requests per CPU-second of the target: ${fixed(median(perCpu), 3)}× median (rounds: ${perCpu.map((x) => `${fixed(x, 3)}×`).join(", ")})`,
    );
  }
  for (const two of ["ours-apps", "ours-apps-shared"] as const) {
    const r = ratio(two, "ours-warm");
    if (!r) continue;
    // Requests per CPU-second of the target as well: what load from other processes moves least.
    const perCpu: number[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const x = results.find((q) => q.target === two && q.round === round);
      const y = results.find((q) => q.target === "ours-warm" && q.round === round);
      if (x && y) perCpu.push(y.cpuMicrosPerRequest / x.cpuMicrosPerRequest);
    }
    console.log(
      `${two} / ours-warm (two apps / one app), req/s: ${fixed(r.median, 3)}× median (${rounds(r, (x) => `${fixed(x, 3)}×`)}) (target ≥ 0.95×): ${r.median >= 0.95 ? "ok" : "BELOW TARGET"}; per CPU-second ${fixed(median(perCpu), 3)}× median (rounds: ${perCpu.map((x) => `${fixed(x, 3)}×`).join(", ")})`,
    );
  }
  const warmBolt = ratio("ours-warm", "bolt");
  if (warmBolt) {
    console.log(`ours-warm / Bolt: ${fixed(warmBolt.median)}× median (${rounds(warmBolt, (x) => `${fixed(x)}×`)})`);
  }
  for (const [a, b] of [
    ["ours-warm", "base-warm"],
    ["ours-cold", "base-cold"],
  ] as const) {
    const r = ratio(a, b);
    if (r) console.log(`${a} / ${b}: ${fixed(r.median, 3)}× median (${rounds(r, (x) => `${fixed(x, 3)}×`)})`);
  }
  const vr = verify.verifyOpsPerSecond / verify.rawOpsPerSecond;
  console.log(`verify / raw HMAC: ${percent(vr)} (target ≥ 90 %): ${vr >= 0.9 ? "ok" : "BELOW TARGET"}`);
  return { targets: results, verify, prefillSeconds };
}

if (import.meta.url === `file://${process.argv[1]}`) await runEventsBench();
