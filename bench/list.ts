/**
 * `listWorkspaces` benchmark: milliseconds per full listing of an app's installations on the SQL stores
 * (SQLite, PostgreSQL, MySQL/MariaDB when they answer), at `BENCH_SIZES` workspaces (default 2,000), half of
 * them with a second user; and per `listExpiringTokens` call (the refresh scheduler's pass: 1,000 of the
 * rotating bot tokens due, every bot here rotates). With `BENCH_BASELINE_DIST=/path/to/other/checkout/dist`, that build's stores list
 * the same data in the same rounds (`<backend>-base`), each in its own file or table prefix.
 *
 * Run: `npm run bench -- list`. Knobs: `BENCH_ROUNDS` (default 3), `BENCH_BACKENDS=sqlite,postgres`.
 * Every table and file it creates is removed afterwards.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Installation } from "../src/model/installation.js";
import type { WorkspaceInstallations } from "../src/stores/installation-store.js";
import { dropStoreTables } from "./lib/tables.js";

/** The part of a store this benchmark uses. */
interface ListStore {
  save(i: Installation): Promise<void>;
  listWorkspaces(): Promise<WorkspaceInstallations[]>;
  listExpiringTokens(untilSeconds: number, limit?: number): Promise<unknown[]>;
  close(): Promise<void>;
}

interface Contender {
  name: string;
  open(): Promise<ListStore>;
  /** Removes what `open` created (server tables, files), after the store is closed. */
  dispose(): Promise<void>;
}

function installation(i: number, user: number): Installation {
  const teamId = `T${String(i).padStart(9, "0")}`;
  return {
    teamId,
    enterpriseId: i % 3 === 0 ? undefined : "E0BENCH0001",
    teamName: `Team ${i}`,
    userId: `U0BENCH000${user}`,
    userToken: `xoxp-bench-${i}-${user}`,
    userScopes: ["search:read"],
    botToken: `xoxb-bench-${i}`,
    // Rotating tokens, all due by EXPIRING_UNTIL: what the refresh scheduler's pass asks for.
    botRefreshToken: `xoxe-1-bench-${i}`,
    botTokenExpiresAt: 1_000 + i,
    botId: `B${i}`,
    botUserId: `U${i}`,
    botScopes: ["commands", "chat:write"],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1_732_520_000 + i,
    customValues: {},
  } as Installation;
}

/** The contenders of one backend: ours (this checkout's `src`), and the baseline build's when given. */
async function contenders(): Promise<{ list: Contender[]; skipped: string[] }> {
  const list: Contender[] = [];
  const skipped: string[] = [];
  const builds: { suffix: string; dir: string }[] = [{ suffix: "", dir: resolve(import.meta.dirname, "../src") }];
  const base = process.env.BENCH_BASELINE_DIST;
  if (base) builds.push({ suffix: "-base", dir: resolve(base) });
  const load = async (dir: string, file: string) =>
    (await import(pathToFileURL(join(dir, "stores", file)).href)) as Record<string, unknown>;
  for (const { suffix, dir } of builds) {
    const ext = suffix ? "js" : "ts";
    {
      const { SQLiteInstallationStore } = await load(dir, `sqlite.${ext}`);
      const Ctor = SQLiteInstallationStore as new (o: { filename: string }) => ListStore;
      let folder = "";
      list.push({
        name: `sqlite${suffix}`,
        open: async () => {
          folder = await mkdtemp(join(tmpdir(), "sok-bench-list-"));
          return new Ctor({ filename: join(folder, "bench.db") });
        },
        dispose: async () => {
          if (folder) await rm(folder, { recursive: true, force: true });
        },
      });
    }
    for (const [name, file, cls, url, driver] of [
      [
        "postgres",
        `postgres.${ext}`,
        "PostgresInstallationStore",
        process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
        "pg",
      ],
      [
        "mysql",
        `mysql.${ext}`,
        "MySQLInstallationStore",
        process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test",
        "mysql",
      ],
    ] as const) {
      const Ctor = (await load(dir, file))[cls] as new (o: { url: string; tablePrefix: string }) => ListStore;
      const drop = (prefix: string) => dropStoreTables(driver, url, prefix);
      try {
        const probe = new Ctor({ url, tablePrefix: "bench_list_probe_" });
        await probe.listWorkspaces();
        await probe.close();
        await drop("bench_list_probe_");
      } catch (e) {
        skipped.push(
          `${name}${suffix}: skipped (${url.replace(/\/\/[^@/]*@/, "//****@")}: ${(e as Error).message.split("\n")[0]})`,
        );
        continue;
      }
      let prefix = "";
      list.push({
        name: `${name}${suffix}`,
        open: async () => {
          prefix = `bench_list_${Math.random().toString(36).slice(2, 8)}_`;
          return new Ctor({ url, tablePrefix: prefix });
        },
        dispose: async () => {
          if (prefix) await drop(prefix);
        },
      });
    }
  }
  const only = process.env.BENCH_BACKENDS?.split(",").map((s) => s.trim().replace(/-base$/, ""));
  return { list: only ? list.filter((c) => only.includes(c.name.replace(/-base$/, ""))) : list, skipped };
}

/** Every bot token above expires by then; a pass asks for at most EXPIRING_LIMIT of them. */
const EXPIRING_UNTIL = 1_000_000;
const EXPIRING_LIMIT = 1_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * Runs the benchmark and prints one line per contender and size, then ours ÷ baseline per backend.
 *
 * @example
 * ```ts
 * await runListBench([2_000]);
 * ```
 */
export async function runListBench(sizes: number[] = [2_000]): Promise<void> {
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const { list, skipped } = await contenders();
  console.log(`listWorkspaces benchmark — node ${process.version}; ${rounds} round(s), contenders in turn`);
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  for (const line of skipped) console.log(line);
  for (const n of sizes) {
    const stores: { c: Contender; store: ListStore; ms: number[]; due: number[] }[] = [];
    try {
      for (const c of list) {
        const store = await c.open();
        stores.push({ c, store, ms: [], due: [] });
        for (let i = 0; i < n; i++) {
          await store.save(installation(i, 1));
          if (i % 2 === 0) await store.save(installation(i, 2));
        }
      }
      for (let r = 0; r < rounds; r++) {
        for (const s of r % 2 ? [...stores].reverse() : stores) {
          const t = performance.now();
          const listed = await s.store.listWorkspaces();
          s.ms.push(performance.now() - t);
          if (listed.length !== n) throw new Error(`${s.c.name}: listed ${listed.length} of ${n} workspaces`);
          const t2 = performance.now();
          const due = await s.store.listExpiringTokens(EXPIRING_UNTIL, EXPIRING_LIMIT);
          s.due.push(performance.now() - t2);
          if (due.length !== Math.min(n, EXPIRING_LIMIT)) throw new Error(`${s.c.name}: ${due.length} tokens due`);
        }
      }
      for (const s of stores) {
        console.log(
          `${s.c.name.padEnd(14)} ${n.toLocaleString("en-US").padStart(8)} workspaces: ${median(s.ms).toFixed(1)} ms per listing (rounds: ${s.ms.map((m) => m.toFixed(1)).join(", ")}); listExpiringTokens ${median(s.due).toFixed(1)} ms (${s.due.map((m) => m.toFixed(1)).join(", ")})`,
        );
      }
      for (const s of stores) {
        const base = stores.find((b) => b.c.name === `${s.c.name}-base`);
        if (base) {
          for (const [what, ours, theirs] of [
            ["listWorkspaces", s.ms, base.ms],
            ["listExpiringTokens", s.due, base.due],
          ] as const) {
            const ratios = ours.map((m, i) => (theirs[i] ?? Number.NaN) / m);
            console.log(
              `${s.c.name} ${what} at ${n.toLocaleString("en-US")} workspaces: ${median(ratios).toFixed(1)}× the baseline's speed, median of the rounds (${ratios.map((x) => x.toFixed(1)).join(", ")})`,
            );
          }
        }
      }
    } finally {
      for (const s of stores) {
        await s.store.close().catch(() => {});
        await s.c.dispose().catch(() => {});
      }
    }
  }
}
