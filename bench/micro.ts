/**
 * Micro-benchmarks behind two choices recorded in `bench/RESULTS.md`:
 *
 * - `lru`: `LruTtlCache` of this checkout against `lru-cache` with its own `ttl` (`max`, `ttl`, no stale
 *   reads) and, with `BENCH_BASELINE_DIST=/path/to/other/dist`, the `LruTtlCache` of another build (the
 *   hand-written Map + doubly linked list it replaced), on the hot path of `CachingInstallationStore` and
 *   the events handler's dedupe: hits over 1,000 hot keys of 10,000 (keys shaped like the store's), and
 *   set-with-eviction of new keys.
 * - `form`: the events handler's hand-written form parser (`parseFormBody`, `scanFormFields`) against
 *   `URLSearchParams` on a real-shaped slash command body (about 450 bytes, `%` escapes included).
 *
 * Contenders run in interleaved rounds (7 by default, `BENCH_ROUNDS`), each round a fixed time per
 * contender after a warm-up; the median round is reported with every round, and ratios are taken within
 * a round, so that the load of a shared machine hits both alike.
 *
 * Run: `npm run bench -- lru` / `npm run bench -- form`.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { LRUCache } from "lru-cache";
import { parseFormBody, scanFormFields } from "../src/events/body.js";
import { LruTtlCache } from "../src/stores/cache.js";
import { fixed, machineLine, printTable } from "./lib/report.js";

type Op = () => unknown;

/** ns per call of `op` over about `ms` milliseconds, in batches of `batch` calls. */
function nsPerOp(op: Op, ms: number, batch = 1_000): number {
  let calls = 0;
  let sink = 0;
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < ms) {
    for (let k = 0; k < batch; k++) if (op() !== undefined) sink++;
    calls += batch;
    now = performance.now();
  }
  if (sink < 0) console.log(sink); // keeps the results alive
  return ((now - t0) * 1e6) / calls;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

interface Contest {
  name: string;
  contenders: Record<string, Op>;
}

/** Runs each contest's contenders in interleaved rounds and prints ns/op and ratios to the first one. */
function run(title: string, contests: Contest[], rounds: number, roundMs: number): void {
  console.log(machineLine(title));
  console.log(`${rounds} interleaved rounds of ${roundMs} ms per contender, after a warm-up; median round shown`);
  const rows: string[][] = [];
  for (const contest of contests) {
    const names = Object.keys(contest.contenders);
    for (const name of names) nsPerOp(contest.contenders[name] as Op, 200); // JIT warm-up
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? names : [...names].reverse();
      for (const name of order) samples[name]?.push(nsPerOp(contest.contenders[name] as Op, roundMs));
    }
    const first = samples[names[0] as string] as number[];
    for (const name of names) {
      const own = samples[name] as number[];
      const ratios = own.map((x, i) => x / (first[i] as number));
      rows.push([
        `${contest.name}: ${name}`,
        fixed(median(own), 1),
        own.map((x) => fixed(x, 0)).join(" "),
        `${fixed(median(ratios), 2)}×`,
      ]);
    }
  }
  console.log();
  printTable(["contest: contender", "ns/op (median)", "every round", `÷ first (median)`], rows);
}

/** Keys shaped like `CachingInstallationStore`'s (`w:T…|e:…|a:U…`). */
function storeKey(i: number): string {
  return `w:T${i.toString().padStart(10, "0")}|e:|a:U${i.toString().padStart(10, "0")}`;
}

/**
 * `LruTtlCache` against `lru-cache` with the same settings: hits over 1,000 hot keys of a full cache of
 * 10,000 (a 60 s TTL on every entry, as the store cache has), and sets of new keys (each one evicts).
 *
 * @example
 * ```ts
 * runLruBench(7, 300);
 * ```
 */
export async function runLruBench(rounds = Number(process.env.BENCH_ROUNDS ?? 7), roundMs = 300): Promise<void> {
  const size = 10_000;
  const hot = 1_000;
  const keys = Array.from({ length: size }, (_, i) => storeKey(i));
  const value = { teamId: "T0000000001", botToken: "xoxb-bench" };
  type Cache = { get(key: string): unknown; set(key: string, v: typeof value): unknown };
  const caches: Record<string, Cache> = {
    "LruTtlCache (this checkout)": new LruTtlCache<typeof value>({ maxEntries: size, ttlMs: 60_000 }),
    "lru-cache, its own ttl": new LRUCache<string, typeof value>({ max: size, ttl: 60_000, allowStale: false }),
  };
  const baseline = process.env.BENCH_BASELINE_DIST;
  if (baseline) {
    const { LruTtlCache: Base } = (await import(
      pathToFileURL(join(baseline, "stores/cache.js")).href
    )) as typeof import("../src/stores/cache.js");
    caches["LruTtlCache (BENCH_BASELINE_DIST)"] = new Base<typeof value>({ maxEntries: size, ttlMs: 60_000 });
  }
  for (const cache of Object.values(caches)) for (const k of keys) cache.set(k, value);
  const fresh = Array.from({ length: 1 << 16 }, (_, i) => `new:${i}`);
  const gets: Record<string, Op> = {};
  const sets: Record<string, Op> = {};
  for (const [name, cache] of Object.entries(caches)) {
    let i = 0;
    let j = 0;
    gets[name] = () => {
      i = (i + 1) % hot;
      return cache.get(keys[i] as string);
    };
    sets[name] = () => {
      j = (j + 1) & 0xffff;
      cache.set(fresh[j] as string, value);
      return 1;
    };
  }
  run(
    "LRU micro-benchmark (LruTtlCache vs lru-cache, 10,000 entries, 60 s TTL)",
    [
      { name: `get, hit (${hot.toLocaleString("en-US")} hot keys)`, contenders: gets },
      { name: "set, new key (evicts the oldest)", contenders: sets },
    ],
    rounds,
    roundMs,
  );
}

/** A slash command as Slack sends it (field order and escapes as Slack's), about 450 bytes. */
export const COMMAND_BODY =
  "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&enterprise_id=E0001&enterprise_name=Globular%20Construct%20Inc" +
  "&channel_id=C2147483705&channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Fweather&text=94070+and+more" +
  "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678&trigger_id=13345224609.738474920.8088930838d88f008e0" +
  "&api_app_id=A123456&is_enterprise_install=false";

const ROUTING_FIELDS = ["command", "team_id", "enterprise_id", "api_app_id"] as const;

/**
 * The hand-written form parser against `URLSearchParams` on {@link COMMAND_BODY}: the whole body into an
 * object (first value wins, as the handler needs), and the few routing fields only.
 *
 * @example
 * ```ts
 * runFormBench(7, 300);
 * ```
 */
export function runFormBench(rounds = Number(process.env.BENCH_ROUNDS ?? 7), roundMs = 300): void {
  const viaSearchParams = (text: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(text)) if (!Object.hasOwn(out, k)) out[k] = v;
    return out;
  };
  const expected = JSON.stringify(viaSearchParams(COMMAND_BODY));
  if (JSON.stringify(parseFormBody(COMMAND_BODY)) !== expected) throw new Error("form: the parsers disagree");
  run(
    `Form parser micro-benchmark (a ${COMMAND_BODY.length}-byte slash command body)`,
    [
      {
        name: "whole body → object",
        contenders: {
          URLSearchParams: () => viaSearchParams(COMMAND_BODY),
          parseFormBody: () => parseFormBody(COMMAND_BODY),
        },
      },
      {
        name: "4 routing fields",
        contenders: {
          "URLSearchParams (get × 4)": () => {
            const p = new URLSearchParams(COMMAND_BODY);
            return [p.get("command"), p.get("team_id"), p.get("enterprise_id"), p.get("api_app_id")];
          },
          scanFormFields: () => scanFormFields(COMMAND_BODY, ROUTING_FIELDS),
        },
      },
    ],
    rounds,
    roundMs,
  );
}
