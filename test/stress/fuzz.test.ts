/**
 * The 1,000-case slice of `npm run fuzz` (see `fuzz.ts`): raw requests from fast-check against the
 * reference server in production and sandbox modes and against the emulator, each in a process of its
 * own. No reply may be a 5xx, none may hang, no target may exit. The seed is printed (and named in
 * every failure); `FUZZ_SEED=<seed> npx vitest run test/stress/fuzz.test.ts` replays a run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUZZ_TARGET_ENV, formatReport, fuzzTarget, spawnTarget, TARGET_KINDS, type Target } from "./fuzz.js";

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() % 2_147_483_647) | 0;
const CASES = 1000;

describe(`fuzz slice (${CASES} cases, seed ${SEED})`, () => {
  const targets: Target[] = [];
  beforeAll(async () => {
    console.log(`fuzz slice: seed ${SEED}`);
    targets.push(...(await Promise.all(TARGET_KINDS.map((k) => spawnTarget(k, FUZZ_TARGET_ENV)))));
  });
  afterAll(async () => {
    await Promise.all(targets.map((t) => t.stop()));
  });

  it("no 5xx, no hang, no crash on any target", { timeout: 120_000 }, async () => {
    const per = Math.ceil(CASES / targets.length);
    const reports = await Promise.all(targets.map((t) => fuzzTarget(t, { cases: per, seed: SEED })));
    for (const r of reports) console.log(formatReport(r));
    for (const r of reports) {
      expect(r.cases, `${r.kind} (seed ${SEED})`).toBe(per);
      expect(r.serverErrors, `${r.kind} 5xx (seed ${SEED})`).toEqual([]);
      expect(r.hangs, `${r.kind} hangs (seed ${SEED})`).toEqual([]);
      expect(r.crash, `${r.kind} crash (seed ${SEED})`).toBeUndefined();
      // The requests reach the handlers, not only Node's parser.
      expect(r.statuses["200"] ?? 0, `${r.kind}: some requests succeed`).toBeGreaterThan(0);
    }
  });
});
