/**
 * The 1,000-case slice of `npm run fuzz` (see `fuzz.ts`): raw requests from fast-check against the
 * reference server in production and sandbox modes and against the emulator, each in a process of its
 * own. No reply may be a 5xx, none may hang, no target may exit. The seed is printed (and named in
 * every failure); `FUZZ_SEED=<seed> npx vitest run test/stress/fuzz.test.ts` replays a run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FUZZ_TARGET_ENV,
  formatReport,
  fuzzTarget,
  rawRequest,
  spawnTarget,
  TARGET_KINDS,
  type Target,
  type TargetKind,
} from "./fuzz.js";

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() % 2_147_483_647) | 0;
const CASES = 1000;

/** A well-formed request each target answers with 200: after the fuzz, the target still serves. */
const PROBE: Record<TargetKind, string> = {
  production: "/healthz",
  sandbox: "/healthz",
  emulator: "/openid/connect/keys",
};
/** Statuses Node's HTTP parser (or its timeouts) can answer without reaching our handlers. */
const PARSER_STATUSES = new Set(["400", "408", "413", "417", "431", "505"]);

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
      // The requests reach the handlers, not only Node's parser (a 200 among random cases is too rare to
      // count on: about 3 in 334 on the sandbox, so some seeds have none).
      const handled = Object.entries(r.statuses)
        .filter(([status]) => !PARSER_STATUSES.has(status))
        .reduce((sum, [, n]) => sum + n, 0);
      expect(handled, `${r.kind}: some requests reach the handlers (seed ${SEED})`).toBeGreaterThan(0);
    }
    // And every target still answers a well-formed request after the fuzz.
    for (const t of targets) {
      const request = `GET ${PROBE[t.kind]} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
      const reply = await rawRequest(t.port, new TextEncoder().encode(request));
      expect(reply.status, `${t.kind}: GET ${PROBE[t.kind]} after the fuzz`).toBe(200);
    }
  });
});
