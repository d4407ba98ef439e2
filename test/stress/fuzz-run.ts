/**
 * `npm run fuzz [-- --cases N] [--seed S] [--targets production,sandbox,emulator]`: fast-check over raw
 * sockets against the reference server (production and sandbox modes) and the emulator, each in a
 * process of its own, N cases per target (default 10 000). Prints the seed first (rerun with
 * `--seed` to replay), then per target the 5xx replies, hangs and crashes found, with the requests; exits
 * 1 when any was found.
 */
import { parseArgs } from "node:util";
import { FUZZ_TARGET_ENV, formatReport, fuzzTarget, spawnTarget, TARGET_KINDS, type TargetKind } from "./fuzz.js";

const { values } = parseArgs({
  options: {
    cases: { type: "string", default: "10000" },
    seed: { type: "string" },
    targets: { type: "string", default: TARGET_KINDS.join(",") },
  },
});
const cases = Number(values.cases);
const seed = values.seed === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(values.seed);
const kinds = (values.targets ?? "").split(",").filter(Boolean) as TargetKind[];
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed) || kinds.some((k) => !TARGET_KINDS.includes(k))) {
  console.error("usage: npm run fuzz -- [--cases N] [--seed S] [--targets production,sandbox,emulator]");
  process.exit(2);
}
console.log(`fuzz: seed=${seed} cases=${cases} per target, targets=${kinds.join(",")}`);
const targets = await Promise.all(kinds.map((k) => spawnTarget(k, FUZZ_TARGET_ENV)));
let failed = false;
try {
  const progress = new Map<TargetKind, number>();
  const ticker = setInterval(() => {
    console.log(`  progress: ${[...progress].map(([k, n]) => `${k} ${n}/${cases}`).join(", ")}`);
  }, 10_000);
  const reports = await Promise.all(
    targets.map((t) => fuzzTarget(t, { cases, seed, onProgress: (n) => progress.set(t.kind, n) })),
  );
  clearInterval(ticker);
  console.log("");
  for (const r of reports) {
    console.log(formatReport(r));
    for (const e of r.serverErrors.slice(0, 10)) console.log(`    5xx ${e.status}: ${e.request}`);
    for (const h of r.hangs.slice(0, 10)) console.log(`    hang: ${h}`);
    if (r.crash) console.log(`    CRASH: ${r.crash}`);
    for (const d of r.droppedSamples) console.log(`    closed without a reply: ${d}`);
    if (r.serverErrors.length > 0 || r.hangs.length > 0 || r.crash) failed = true;
  }
  const total = reports.reduce((n, r) => n + r.cases, 0);
  console.log(`\ntotal: ${total} cases, seed ${seed}: ${failed ? "FAILURES FOUND" : "0 5xx, 0 hangs, 0 crashes"}`);
} finally {
  await Promise.all(targets.map((t) => t.stop()));
}
process.exit(failed ? 1 : 0);
