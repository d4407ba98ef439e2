/**
 * `slack-oauth-kit/testing` as a user runs it: a test file of their own, under another runner (`node:test`,
 * in a child process, with Vitest's standalone `expect` passed in), imports the conformance suites from the
 * built package by name and runs them against stores written in that file. A broken store must fail.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
// Inside the package folder, so `slack-oauth-kit/...` resolves to this package (self-reference), as installed.
const dir = join(root, ".tmp", `own-store-${randomBytes(4).toString("hex")}`);

/** A state store as a user would write one: a Map, a clock, and the library's public helpers. */
const userStateStore = (options: { replayable?: boolean } = {}) => `
import { generateState, InvalidArgumentError } from "slack-oauth-kit";
import { isWellFormedState } from "slack-oauth-kit/stores";

export class MapStateStore {
  #states = new Map(); // state -> { json, expiresAt, used }
  #clock;
  #ttlMs;
  constructor({ clock = Date.now, ttlSeconds = 600 } = {}) {
    this.#clock = clock;
    this.#ttlMs = ttlSeconds * 1000;
  }
  async issue(data = {}) {
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new InvalidArgumentError("state data must be a plain object");
    }
    let json;
    try {
      json = JSON.stringify(data);
    } catch (cause) {
      throw new InvalidArgumentError("state data must be JSON", { cause });
    }
    const state = generateState();
    this.#states.set(state, { json, expiresAt: this.#clock() + this.#ttlMs, used: false });
    return state;
  }
  #status(state) {
    if (!isWellFormedState(state)) return "malformed";
    const entry = this.#states.get(state);
    if (!entry) return "unknown";
    if (entry.used) return "used";
    if (entry.expired || this.#clock() >= entry.expiresAt) return "expired"; // a clock stepping back revives nothing
    return "live";
  }
  async inspect(state) {
    return this.#status(state);
  }
  async consume(state) {
    const status = this.#status(state); // checked and marked with no await in between: one winner
    const entry = this.#states.get(state);
    if (status === "expired") entry.expired = true;
    if (status !== "live") return undefined;
    ${options.replayable ? "" : "entry.used = true;"}
    return JSON.parse(entry.json);
  }
  async close() {}
}
`;

/** An installation store as a user would write one: an audit wrapper that forwards to the memory store. */
const userInstallationStore = `
import { MemoryInstallationStore } from "slack-oauth-kit/stores/memory";

export class AuditedInstallationStore {
  saves = 0;
  #inner;
  constructor(options) {
    this.#inner = new MemoryInstallationStore(options);
  }
  async save(installation) {
    await this.#inner.save(installation);
    this.saves++;
  }
  findBot(q) { return this.#inner.findBot(q); }
  findInstallation(q) { return this.#inner.findInstallation(q); }
  deleteBot(q) { return this.#inner.deleteBot(q); }
  deleteInstallation(q) { return this.#inner.deleteInstallation(q); }
  deleteAll(q) { return this.#inner.deleteAll(q); }
  listWorkspaces(filter) { return this.#inner.listWorkspaces(filter); }
  updateTokens(q, patch, expectation) { return this.#inner.updateTokens(q, patch, expectation); }
  withLock(key, fn, options) { return this.#inner.withLock(key, fn, options); }
  recordHealth(q, health, expectation) { return this.#inner.recordHealth(q, health, expectation); }
  listHealth(filter) { return this.#inner.listHealth(filter); }
  listExpiringTokens(untilSeconds, limit) { return this.#inner.listExpiringTokens(untilSeconds, limit); }
  updateTeamAccess(enterpriseId, change) { return this.#inner.updateTeamAccess(enterpriseId, change); }
  findTeamAccess(enterpriseId) { return this.#inner.findTeamAccess(enterpriseId); }
  close() { return this.#inner.close(); }
}
`;

const testFile = (stores: string, calls: string) => `
import { afterEach, beforeEach, describe, it } from "node:test";
import { expect } from "vitest";
import { testInstallationStore, testStateStore } from "slack-oauth-kit/testing";
${stores}
const runner = { describe, it, expect, beforeEach, afterEach };
${calls}
`;

interface Run {
  code: number;
  pass: number;
  fail: number;
  output: string;
}

/** `node --test` on one file, TAP output; resolves with the exit code and the pass / fail counts. */
function nodeTest(file: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--test", "--test-reporter=tap", file],
      { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout) => {
        const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(stdout)?.[1] ?? Number.NaN);
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          pass: count("pass"),
          fail: count("fail"),
          output: stdout,
        });
      },
    );
  });
}

describe("slack-oauth-kit/testing under node:test", () => {
  mkdirSync(dir, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the suites pass on stores written by a user, and fail on a store that replays states", async () => {
    const good = join(dir, "good.test.mjs");
    writeFileSync(
      good,
      testFile(
        `${userStateStore()}\n${userInstallationStore}`,
        `
testStateStore(runner, "Map state store", async () => ({ store: new MapStateStore() }), {
  clockStore: async (clock, ttlSeconds) => ({ store: new MapStateStore({ clock, ttlSeconds }) }),
});
testInstallationStore(runner, "audited memory store", async () => ({ store: new AuditedInstallationStore() }));
`,
      ),
    );
    const broken = join(dir, "broken.test.mjs");
    writeFileSync(
      broken,
      testFile(
        userStateStore({ replayable: true }),
        `testStateStore(runner, "replayable Map state store", async () => ({ store: new MapStateStore() }));`,
      ),
    );
    const [ok, bad] = await Promise.all([nodeTest(good), nodeTest(broken)]);

    expect({ code: ok.code, fail: ok.fail }, ok.output.slice(-4000)).toEqual({ code: 0, fail: 0 });
    // Every test of both suites ran (about 80 for installations, 15 for states), none skipped.
    expect(ok.pass).toBeGreaterThanOrEqual(90);
    expect(ok.output).toMatch(/^# skipped 0$/m);
    expect(ok.output).toContain("StateStore conformance: Map state store");
    expect(ok.output).toContain("InstallationStore conformance: audited memory store");

    expect(bad.code).not.toBe(0);
    expect(bad.fail).toBeGreaterThan(0);
    expect(bad.output).toMatch(/not ok \d+ - consume returns the data once; the second consume returns undefined/);
    expect(bad.output).toMatch(/not ok \d+ - 20 concurrent consumes of one state: exactly one gets the data/);
  }, 120_000);
});
