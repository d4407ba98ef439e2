/**
 * `findBot` lookup benchmark: ops/s and p50 / p99 latency (µs) at 10,000 and 100,000 installations for
 * every available backend (memory, file, and SQLite once `src/stores/sqlite.ts` exports
 * `SQLiteInstallationStore`). Data lives in temp dirs under `os.tmpdir()`, removed afterwards.
 *
 * Run: `npm run bench -- lookup`. Narrow it with `BENCH_SIZES=1000,10000` and `BENCH_BACKENDS=memory,sqlite`.
 * With `BENCH_BASELINE_DIST=/path/to/other/checkout/dist`, that build's SQLite store runs too (`sqlite-base`).
 * Every backend of a size is populated first, then measured in turn for `BENCH_ROUNDS` rounds (default 3,
 * every other round in reverse order); ops/s is the median round, and the SQLite / `@slack/oauth` ratio
 * the median of the per-round ratios.
 * PostgreSQL and MySQL/MariaDB are measured when they answer (`POSTGRES_URL`, `MYSQL_URL`; defaults: this
 * machine's servers), each size in its own random table prefix, dropped afterwards.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import slackOAuth from "@slack/oauth";
import type { Bot, Installation } from "../src/model/installation.js";
import { FileInstallationStore } from "../src/stores/file.js";
import type { BotQuery } from "../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../src/stores/memory.js";
import { dropStoreTables } from "./lib/tables.js";

// @slack/oauth is CommonJS: its named exports are not statically detectable by Node.
const { FileInstallationStore: SlackOAuthFileStore } = slackOAuth;

/** What the benchmark calls on a store: ours, or an adapter around another library's. */
interface LookupStore {
  save(installation: Installation): Promise<void>;
  findBot(q: BotQuery): Promise<Bot | object | undefined>;
  close?(): Promise<void>;
}

/**
 * `@slack/oauth`'s `FileInstallationStore` (the durable default of Bolt for JavaScript) behind the same two
 * calls: `save` → `storeInstallation` of the same installation in its model, `findBot` →
 * `fetchInstallation` (which throws when nothing is found: `undefined` here, so a miss still fails the run).
 */
function slackOAuthFileStore(dir: string): LookupStore {
  const store = new SlackOAuthFileStore({ baseDir: dir, historicalDataEnabled: false });
  return {
    save: (i) =>
      store.storeInstallation({
        team: { id: i.teamId as string, name: i.teamName as string },
        enterprise: i.enterpriseId ? { id: i.enterpriseId, name: i.enterpriseName as string } : undefined,
        user: { id: i.userId, token: i.userToken as string, scopes: i.userScopes },
        bot: {
          id: i.botId as string,
          userId: i.botUserId as string,
          token: i.botToken as string,
          scopes: i.botScopes,
        },
        tokenType: "bot",
        isEnterpriseInstall: false,
        appId: i.appId,
        authVersion: "v2",
      }),
    findBot: (q) =>
      store
        .fetchInstallation({ enterpriseId: q.enterpriseId, teamId: q.teamId, isEnterpriseInstall: false })
        .catch(() => undefined),
  };
}

/** One backend under test: how to open it, how many saves may run at once, how to dispose of it. */
interface Backend {
  name: string;
  open(dir: string): Promise<LookupStore>;
  /** Concurrent saves while populating (file writes overlap their fsyncs). */
  saveConcurrency: number;
  /** Other configurations measured on the same populated data (same layout, other options). */
  alsoMeasure?: { name: string; open(dir: string): Promise<LookupStore> }[];
  /** Removes what `open` created outside `dir` (server tables), after the store is closed. */
  dispose?: () => Promise<void>;
}

/**
 * A database-server backend (PostgreSQL, MySQL/MariaDB): skipped with a line when the server does not
 * answer. Each size gets its own random table prefix, dropped afterwards.
 */
async function serverBackend(
  name: string,
  url: string,
  load: () => Promise<new (o: { url: string; tablePrefix: string }) => LookupStore>,
  drop: (prefix: string) => Promise<void>,
): Promise<Backend | string> {
  let Ctor: new (o: { url: string; tablePrefix: string }) => LookupStore;
  try {
    Ctor = await load();
    const probe = new Ctor({ url, tablePrefix: "bench_probe_" });
    await probe.findBot({ teamId: "T0PROBE" });
    await probe.close?.();
    await drop("bench_probe_");
  } catch (e) {
    return `${name}: skipped (${url.replace(/\/\/[^@/]*@/, "//****@")} unreachable: ${(e as Error).message.split("\n")[0]})`;
  }
  let prefix = "";
  return {
    name,
    open: async () => {
      prefix = `bench_${Math.random().toString(36).slice(2, 8)}_`;
      return new Ctor({ url, tablePrefix: prefix });
    },
    saveConcurrency: 16,
    dispose: async () => {
      if (prefix) await drop(prefix);
    },
  };
}

async function postgresBackend(): Promise<Backend | string> {
  const url = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  return serverBackend(
    "postgres",
    url,
    async () => (await import("../src/stores/postgres.js")).PostgresInstallationStore as never,
    (prefix) => dropStoreTables("pg", url, prefix),
  );
}

async function mysqlBackend(): Promise<Backend | string> {
  const url = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
  return serverBackend(
    "mysql",
    url,
    async () => (await import("../src/stores/mysql.js")).MySQLInstallationStore as never,
    (prefix) => dropStoreTables("mysql", url, prefix),
  );
}

/**
 * One result row of {@link runLookupBench}.
 *
 * @example
 * ```ts
 * const [first]: LookupResult[] = await runLookupBench([1000]);
 * ```
 */
export interface LookupResult {
  backend: string;
  installations: number;
  opsPerSecond: number;
  p50Micros: number;
  p99Micros: number;
  populateSeconds: number;
  /** Throughput of each round (ops/s); `opsPerSecond` is their median. */
  perRound: number[];
  /**
   * Lookups per second of CPU time (user + system, every thread of the process) of each round: what a
   * lookup costs, less swayed than ops/s by other work on the machine taking the CPU away.
   */
  cpuPerRound: number[];
}

const DEFAULT_SIZES = [10_000, 100_000];
const THROUGHPUT_MS = 2_000;
const LATENCY_SAMPLES = 50_000;
const QUERY_SET = 65_536;
/** Measurement rounds per contender (`BENCH_ROUNDS`, default 3). */
const ROUNDS = Math.max(1, Number.parseInt(process.env.BENCH_ROUNDS ?? "3", 10) || 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function teamId(i: number): string {
  return `T${i.toString().padStart(8, "0")}`;
}

function installation(i: number): Installation {
  return {
    appId: "A0BENCH0001",
    enterpriseId: "E0BENCH0001",
    enterpriseName: "Bench Org",
    teamId: teamId(i),
    teamName: `Workspace ${i}`,
    botToken: `xoxb-test-${randomUUID()}`,
    botId: `B${i}`,
    botUserId: `U${i}B`,
    botScopes: ["chat:write", "commands", "channels:history"],
    userId: `U${i}`,
    userToken: `xoxp-test-${randomUUID()}`,
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.123,
    customValues: {},
  };
}

async function populate(store: LookupStore, n: number, concurrency: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) await store.save(installation(next++));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - t0) / 1000;
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** Pseudo-random (but reproducible) queries spread over all installations, as fresh objects like a request's. */
function queries(n: number): BotQuery[] {
  let x = 0x9e3779b9;
  return Array.from({ length: QUERY_SET }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return { enterpriseId: "E0BENCH0001", teamId: teamId((x >>> 0) % n), isEnterpriseInstall: false };
  });
}

/** One round: lookups per second of wall time, and per second of this process's CPU time. */
async function throughput(store: LookupStore, qs: BotQuery[]): Promise<{ wall: number; cpu: number }> {
  const mask = QUERY_SET - 1;
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(THROUGHPUT_MS) * 1_000_000n;
  let now = t0;
  while (now < deadline) {
    for (let k = 0; k < 1024; k++) {
      const bot = await store.findBot(qs[(ops + k) & mask] as BotQuery);
      if (bot === undefined) throw new Error("benchmark query missed");
    }
    ops += 1024;
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: ops / (Number(now - t0) / 1e9), cpu: ops / ((cpu.user + cpu.system) / 1e6) };
}

async function latency(store: LookupStore, qs: BotQuery[], samples: number): Promise<[number, number]> {
  const mask = QUERY_SET - 1;
  const ns = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const q = qs[(i * 7) & mask] as BotQuery;
    const t = process.hrtime.bigint();
    await store.findBot(q);
    ns[i] = Number(process.hrtime.bigint() - t);
  }
  ns.sort();
  const at = (p: number) => (ns[Math.min(samples - 1, Math.floor(p * samples))] ?? 0) / 1000;
  return [at(0.5), at(0.99)];
}

async function sqliteBackend(): Promise<Backend | string> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(["../src/stores/", "sqlite.js"].join(""))) as Record<string, unknown>;
  } catch (e) {
    return `sqlite: skipped (src/stores/sqlite.ts could not be loaded: ${(e as Error).message.split("\n")[0]})`;
  }
  const Ctor = mod.SQLiteInstallationStore as (new (o: { filename: string }) => LookupStore) | undefined;
  if (typeof Ctor !== "function")
    return "sqlite: skipped (src/stores/sqlite.ts does not export SQLiteInstallationStore yet)";
  return { name: "sqlite", open: async (dir) => new Ctor({ filename: join(dir, "bench.db") }), saveConcurrency: 1 };
}

/**
 * With `BENCH_BASELINE_DIST=/path/to/other/checkout/dist`: the SQLite store of that build as `sqlite-base`
 * (its own file), measured in the same rounds as ours for a before/after in one run.
 */
async function sqliteBaselineBackend(): Promise<Backend | string | undefined> {
  const dist = process.env.BENCH_BASELINE_DIST;
  if (!dist) return undefined;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(join(resolve(dist), "stores", "sqlite.js")).href)) as Record<string, unknown>;
  } catch (e) {
    return `sqlite-base: skipped (${dist}/stores/sqlite.js could not be loaded: ${(e as Error).message.split("\n")[0]})`;
  }
  const Ctor = mod.SQLiteInstallationStore as (new (o: { filename: string }) => LookupStore) | undefined;
  if (typeof Ctor !== "function") return "sqlite-base: skipped (no SQLiteInstallationStore in BENCH_BASELINE_DIST)";
  return {
    name: "sqlite-base",
    open: async (dir) => new Ctor({ filename: join(dir, "bench.db") }),
    saveConcurrency: 1,
  };
}

/**
 * Runs the benchmark and prints one line per backend and size.
 *
 * @example
 * ```ts
 * const results = await runLookupBench([10_000, 100_000]);
 * ```
 */
export async function runLookupBench(sizes: number[] = DEFAULT_SIZES): Promise<LookupResult[]> {
  const backends: Backend[] = [
    { name: "memory", open: async () => new MemoryInstallationStore(), saveConcurrency: 1 },
    {
      name: "file",
      open: async (dir) => new FileInstallationStore({ baseDir: dir }),
      saveConcurrency: 32,
      alsoMeasure: [
        { name: "file+syncReads", open: async (dir) => new FileInstallationStore({ baseDir: dir, syncReads: true }) },
      ],
    },
    // The reference the durable lookups are measured against: Bolt's default file store.
    { name: "@slack/oauth", open: async (dir) => slackOAuthFileStore(dir), saveConcurrency: 32 },
  ];
  const skipped: string[] = [];
  for (const b of [
    await sqliteBackend(),
    await sqliteBaselineBackend(),
    await postgresBackend(),
    await mysqlBackend(),
  ]) {
    if (b === undefined) continue;
    if (typeof b === "string") skipped.push(b);
    else backends.push(b);
  }
  const only = process.env.BENCH_BACKENDS?.split(",").map((s) => s.trim());
  if (only) backends.splice(0, backends.length, ...backends.filter((b) => only.includes(b.name)));

  console.log(
    `findBot lookup benchmark — node ${process.version}, ${process.platform} ${process.arch}, ${cpus().length} CPUs, ${cpus()[0]?.model ?? "?"}`,
  );
  console.log(
    `throughput: sequential awaits for ${THROUGHPUT_MS / 1000} s; latency: ${LATENCY_SAMPLES.toLocaleString("en-US")} individually timed calls (hrtime adds ~0.05 µs)`,
  );
  console.log(`load average at start: ${loadAverage()} (above ~0.5 on this machine, other work skews the numbers)`);
  for (const line of skipped) console.log(line);
  const header = `${"backend".padEnd(15)} ${"installs".padStart(9)} ${"ops/s".padStart(12)} ${"p50 µs".padStart(9)} ${"p99 µs".padStart(9)} ${"populate".padStart(10)}`;
  console.log(header);

  const results: LookupResult[] = [];
  for (const n of sizes) {
    // Every backend populated first, then measured in turn for BENCH_ROUNDS rounds (every other round in
    // reverse order), so a load that comes and goes on a shared machine hits every contender alike.
    const live: { backend: Backend; dir: string; opened: LookupStore[] }[] = [];
    const views: { name: string; store: LookupStore; populateSeconds: number }[] = [];
    try {
      for (const backend of backends) {
        const dir = await mkdtemp(join(tmpdir(), `slack-oauth-kit-bench-${backend.name.replace(/[^a-z0-9+]/g, "-")}-`));
        const entry = { backend, dir, opened: [] as LookupStore[] };
        live.push(entry);
        const store = await backend.open(dir);
        entry.opened.push(store);
        const populateSeconds = await populate(store, n, backend.saveConcurrency);
        views.push({ name: backend.name, store, populateSeconds });
        for (const also of backend.alsoMeasure ?? []) {
          const other = await also.open(dir);
          entry.opened.push(other);
          views.push({ name: also.name, store: other, populateSeconds });
        }
      }
      const qs = queries(n);
      for (const v of views) await throughput(v.store, qs); // warm-up (JIT, page cache)
      const rounds = new Map<string, { wall: number; cpu: number }[]>(views.map((v) => [v.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const v of round % 2 === 0 ? views : [...views].reverse())
          rounds.get(v.name)?.push(await throughput(v.store, qs));
      }
      for (const v of views) {
        const perRound = (rounds.get(v.name) ?? []).map((r) => r.wall);
        const cpuPerRound = (rounds.get(v.name) ?? []).map((r) => r.cpu);
        const opsPerSecond = median(perRound);
        const [p50Micros, p99Micros] = await latency(v.store, qs, LATENCY_SAMPLES);
        results.push({
          backend: v.name,
          installations: n,
          opsPerSecond,
          p50Micros,
          p99Micros,
          populateSeconds: v.populateSeconds,
          perRound,
          cpuPerRound,
        });
        console.log(
          `${v.name.padEnd(15)} ${n.toLocaleString("en-US").padStart(9)} ${Math.round(opsPerSecond).toLocaleString("en-US").padStart(12)} ${p50Micros.toFixed(2).padStart(9)} ${p99Micros.toFixed(2).padStart(9)} ${`${v.populateSeconds.toFixed(1)} s`.padStart(10)}   rounds: ${perRound.map((x) => Math.round(x).toLocaleString("en-US")).join(", ")}; per CPU-second: ${cpuPerRound.map((x) => Math.round(x).toLocaleString("en-US")).join(", ")}`,
        );
      }
    } finally {
      for (const { backend, dir, opened } of live) {
        for (const s of opened) await s.close?.();
        await backend.dispose?.();
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  console.log(`load average at end: ${loadAverage()}`);
  const mem = results.find((r) => r.backend === "memory" && r.installations === 100_000);
  if (mem) {
    const ok = mem.opsPerSecond >= 1_500_000;
    console.log(
      `memory findBot at 100,000 installations: ${Math.round(mem.opsPerSecond).toLocaleString("en-US")} ops/s (target ≥ 1,500,000): ${ok ? "ok" : "BELOW TARGET"}`,
    );
  }
  for (const n of sizes) {
    const ref = results.find((r) => r.backend === "@slack/oauth" && r.installations === n);
    for (const name of ["sqlite", "sqlite-base"]) {
      const sqlite = results.find((r) => r.backend === name && r.installations === n);
      if (!ref || !sqlite) continue;
      const perRound = sqlite.perRound.map((x, i) => x / (ref.perRound[i] ?? Number.NaN));
      const ratio = median(perRound);
      const perCpu = sqlite.cpuPerRound.map((x, i) => x / (ref.cpuPerRound[i] ?? Number.NaN));
      console.log(
        `${name} findBot at ${n.toLocaleString("en-US")} installations: ${ratio.toFixed(2)}× @slack/oauth FileInstallationStore, median of the rounds (${perRound.map((r) => r.toFixed(2)).join(", ")}) (target ≥ 3×): ${ratio >= 3 ? "ok" : "BELOW TARGET"}; per CPU-second ${median(perCpu).toFixed(2)}× (${perCpu.map((r) => r.toFixed(2)).join(", ")})`,
      );
    }
    const ours = results.find((r) => r.backend === "sqlite" && r.installations === n);
    const base = results.find((r) => r.backend === "sqlite-base" && r.installations === n);
    if (ours && base) {
      const perRound = ours.perRound.map((x, i) => x / (base.perRound[i] ?? Number.NaN));
      const perCpu = ours.cpuPerRound.map((x, i) => x / (base.cpuPerRound[i] ?? Number.NaN));
      console.log(
        `sqlite / sqlite-base at ${n.toLocaleString("en-US")} installations: ${median(perRound).toFixed(2)}×, median of the rounds (${perRound.map((r) => r.toFixed(2)).join(", ")}); per CPU-second ${median(perCpu).toFixed(2)}× (${perCpu.map((r) => r.toFixed(2)).join(", ")})`,
      );
    }
  }
  return results;
}
