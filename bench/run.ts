/**
 * Benchmark runner: `npm run bench -- <name>` (`node --import tsx bench/run.ts <name>`); with no name,
 * runs every benchmark. Benchmarks are never timed tests: they print numbers for people to read.
 */
const benches: Record<string, () => Promise<unknown>> = {
  lookup: async () => {
    const { runLookupBench } = await import("./lookup.js");
    const sizes = process.env.BENCH_SIZES?.split(",").map((s) => Number(s.trim()));
    if (sizes?.some((n) => !Number.isInteger(n) || n < 1))
      throw new Error("BENCH_SIZES: comma-separated positive integers");
    return runLookupBench(sizes);
  },
  list: async () => {
    const { runListBench } = await import("./list.js");
    const sizes = process.env.BENCH_SIZES?.split(",").map((s) => Number(s.trim()));
    if (sizes?.some((n) => !Number.isInteger(n) || n < 1))
      throw new Error("BENCH_SIZES: comma-separated positive integers");
    return runListBench(sizes);
  },
  callback: async () => (await import("./callback.js")).runCallbackBench(),
  events: async () => (await import("./events.js")).runEventsBench(),
  runtimes: async () => (await import("./runtimes.js")).runRuntimesBench(),
  lru: async () => (await import("./micro.js")).runLruBench(),
  form: async () => (await import("./micro.js")).runFormBench(),
  health: async () => (await import("./health.js")).runHealthBench(),
};

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in benches));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(", ")}; available: ${Object.keys(benches).join(", ")}`);
  process.exit(1);
}
for (const name of names.length > 0 ? names : Object.keys(benches)) {
  await benches[name]?.();
}
