/**
 * 100 callbacks at once with the same valid state and cookie (a double-click storm, or an attacker racing
 * the user): exactly one code exchange, exactly one installation saved, and 99 clear "already used" pages.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import type { StateStore } from "../../src/state/state.js";
import { MemoryStateStore } from "../../src/stores/memory.js";
import { SQLiteStateStore } from "../../src/stores/sqlite.js";
import { callback, consent, type Harness, startHarness, startInstall } from "./flow-harness.js";

const dir = mkdtempSync(join(tmpdir(), "flow-concurrency-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: Array<{ name: string; make: () => StateStore }> = [
  { name: "MemoryStateStore", make: () => new MemoryStateStore() },
  { name: "SQLiteStateStore", make: () => new SQLiteStateStore({ filename: join(dir, "states.db") }) },
];

describe.each(backends)("100 concurrent callbacks, one state ($name)", ({ make }) => {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
    await h?.states.inner.close?.();
  });

  it("save exactly one installation; the other 99 get STATE_REUSED", async () => {
    h = await startHarness({ stateStore: make() });
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    const responses = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await callback(location, started.cookie);
        return { status: res.status, code: res.headers.get("x-slack-oauth-error"), html: await res.text() };
      }),
    );
    const ok = responses.filter((r) => r.status === 200);
    const reused = responses.filter((r) => r.status === 400 && r.code === ErrorCode.StateReused);
    expect(ok, JSON.stringify(responses.filter((r) => r.status !== 400).map((r) => r.html.slice(0, 300)))).toHaveLength(
      1,
    );
    expect(ok[0]?.html).toContain("Installation complete");
    expect(reused).toHaveLength(99);
    for (const r of reused) {
      expect(r.html).toContain("already used");
      expect(r.html).toContain("Start again");
    }
    expect(h.store.attempts).toBe(1);
    expect(h.store.saves).toBe(1);
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(1);
    expect(h.emu.calls("oauth.v2.access")[0]?.ok).toBe(true);
    const saved = await h.store.findInstallation({ teamId: "T0000000001" });
    expect(saved?.botToken).toMatch(/^xoxb-/);
  });
});
