/**
 * The shared conformance suite for {@link StateStore}: every backend calls {@link testStateStore}.
 *
 * > [!NOTE]
 * > Time zones: nothing here may depend on the machine's time zone (times are epoch ms / s). Run the
 * > suite under a non-UTC zone as well: `TZ=America/New_York npx vitest run test/stores`.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { ErrorCode, InvalidArgumentError } from "../errors.js";
import { consumeAppState, generateState, issueAppState, isWellFormedState, type StateStore } from "../state/state.js";
import type { TestFunctions } from "./api.js";

/**
 * A state store under test and how to dispose of it.
 *
 * @example
 * ```ts
 * const handle: StateStoreHandle = { store: new MemoryStateStore() };
 * ```
 */
export interface StateStoreHandle {
  store: StateStore;
  /** Closes the store and removes what the test created. */
  cleanup?: () => Promise<void>;
}

/**
 * How to consume states of the store under test from other OS processes.
 *
 * The child must: print the line `ready` once it has opened the store, wait for one line on stdin
 * (the start signal), consume every state given to it in order, print one JSON line per state
 * `{"state": "...", "data": {...} | null}`, and exit with code 0.
 *
 * @example
 * ```ts
 * const multiProcess: MultiProcessOptions = {
 *   command: process.execPath,
 *   args: (states) => ["--import", "tsx", "test/helpers/consume-state.ts", dir, ...states],
 * };
 * ```
 */
export interface MultiProcessOptions {
  /** The executable, usually `process.execPath`. */
  command: string;
  /** Arguments of one child that consumes `states` from the same store the parent uses. */
  args: (states: string[]) => string[];
  /**
   * Number of racing children.
   *
   * @default 4
   */
  processes?: number;
  /** Extra environment for the children. */
  env?: Record<string, string>;
}

/**
 * Options of {@link testStateStore}.
 *
 * @example
 * ```ts
 * const options: StateStoreSuiteOptions = {
 *   clockStore: async (clock, ttlSeconds) => ({ store: new MemoryStateStore({ nowMs: clock, ttlSeconds }) }),
 * };
 * ```
 */
export interface StateStoreSuiteOptions {
  /** Opens a store with an injected clock (epoch ms) and optional TTL: expiry is tested without waiting. */
  clockStore?: (clock: () => number, ttlSeconds?: number) => Promise<StateStoreHandle>;
  /** Opens a store with a real-time TTL in seconds (for backends whose expiry the server enforces). */
  ttlStore?: (ttlSeconds: number) => Promise<StateStoreHandle>;
  /** Races several OS processes on the same state (file and database backends). */
  multiProcess?: MultiProcessOptions;
  /**
   * The state stores of two apps over one storage (the same store twice when the backend has no app
   * partitions): a state issued for one app is refused on the other's callback.
   */
  appStores?: () => Promise<{
    /** The store of one app. */
    a: StateStore;
    /** The store of another app, on the same backend. */
    b: StateStore;
    /** Closes both and removes what the test created. */
    cleanup?: () => Promise<void>;
  }>;
}

const nestedData = () => ({
  redirectTo: "/après?x=1&y=2",
  teamHint: "T123",
  n: 42,
  f: 0.5,
  ok: true,
  nothing: null,
  list: [1, "two", { three: [3] }],
  nested: { a: { b: { c: "🚀 東京" } }, empty: {} },
  nonce: randomUUID(),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Declares the shared conformance suite for a {@link StateStore} backend.
 *
 * @example
 * ```ts
 * testStateStore("memory", async () => ({ store: new MemoryStateStore() }), {
 *   clockStore: async (clock, ttlSeconds) => ({ store: new MemoryStateStore({ nowMs: clock, ttlSeconds }) }),
 * });
 * ```
 */
export function testStateStore(
  test: TestFunctions,
  name: string,
  makeStore: () => Promise<StateStoreHandle>,
  options: StateStoreSuiteOptions = {},
): void {
  const { describe, it, expect, beforeEach, afterEach } = test;
  describe(`StateStore conformance: ${name}`, () => {
    let handle: StateStoreHandle;
    let store: StateStore;
    beforeEach(async () => {
      handle = await makeStore();
      store = handle.store;
    });
    afterEach(async () => {
      await handle.cleanup?.();
    });

    it("issues well-formed, URL-safe states of at least 128 bits, distinct across 1000 issues", async () => {
      const states = await Promise.all(Array.from({ length: 1000 }, () => store.issue()));
      expect(new Set(states).size).toBe(1000);
      for (const s of states) {
        expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(s.length * 6).toBeGreaterThanOrEqual(128);
        expect(isWellFormedState(s)).toBe(true);
        expect(encodeURIComponent(s)).toBe(s);
      }
    });

    it("consume returns the data once; the second consume returns undefined", async () => {
      const data = { redirectTo: "/home", nonce: randomUUID() };
      const state = await store.issue(data);
      expect(await store.consume(state)).toStrictEqual(data);
      expect(await store.consume(state)).toBeUndefined();
      expect(await store.consume(state)).toBeUndefined();
    });

    it("inspect tells live / used / unknown / malformed without consuming (a live state still consumes)", async () => {
      expect(typeof store.inspect).toBe("function"); // every store of this library can inspect
      const inspect = store.inspect!.bind(store);
      const state = await store.issue({ n: 1 });
      expect(await inspect(state)).toBe("live");
      expect(await inspect(state)).toBe("live");
      expect(await store.consume(state)).toStrictEqual({ n: 1 });
      expect(await inspect(state)).toBe("used");
      expect(await inspect(generateState())).toBe("unknown");
      expect(await inspect("../../etc/passwd")).toBe("malformed");
      expect(await inspect("")).toBe("malformed");
    });

    it("a state issued without data consumes to an empty object", async () => {
      const state = await store.issue();
      expect(await store.consume(state)).toStrictEqual({});
      expect(await store.consume(state)).toBeUndefined();
    });

    it("round-trips nested data exactly", async () => {
      const data = nestedData();
      const state = await store.issue(data);
      expect(await store.consume(state)).toStrictEqual(data);
    });

    it("keeps its own copy of the data", async () => {
      const data = nestedData();
      const expected = structuredClone(data);
      const state = await store.issue(data);
      data.nested.a.b.c = "changed";
      data.list.push(4);
      data.n = 0;
      expect(await store.consume(state)).toStrictEqual(expected);
    });

    it("each state carries its own data, also when issued and consumed concurrently", async () => {
      const datas = Array.from({ length: 50 }, (_, i) => ({ i, nonce: randomUUID() }));
      const states = await Promise.all(datas.map((d) => store.issue(d)));
      const got = await Promise.all([...states].reverse().map((s) => store.consume(s)));
      expect(got.reverse()).toStrictEqual(datas);
    });

    it("an unknown well-formed state returns undefined", async () => {
      await store.issue({ x: 1 });
      expect(await store.consume(generateState())).toBeUndefined();
    });

    it("20 concurrent consumes of one state: exactly one gets the data", async () => {
      const data = { nonce: randomUUID() };
      const state = await store.issue(data);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(state)));
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toStrictEqual(data);
    });

    it("malformed states return undefined, never throw, and do not consume a real state", async () => {
      const data = { nonce: randomUUID() };
      const state = await store.issue(data);
      const malformed: unknown[] = [
        "../../etc/passwd",
        "",
        `${"a".repeat(21)}/${"b".repeat(21)}`,
        `../${state.slice(3)}`,
        "x".repeat(10_240),
        `${state}\n`,
        ` ${state}`,
        `${state}.json`,
        `${state}A`,
        state.slice(1),
        `${state.slice(0, 42)}=`,
        `${state.slice(0, 42)}\u0000`,
        `${state.slice(0, 41)}é`,
        undefined,
        null,
        42,
        { state },
        [state],
        Symbol("state"),
      ];
      for (const m of malformed) {
        expect(await store.consume(m as string)).toBe(undefined);
      }
      expect(await store.consume(state)).toStrictEqual(data);
    });

    it("issue rejects data that is not a plain JSON object with InvalidArgumentError", async () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const bad of [[1, 2], "data", 42, true, circular, { n: 10n }]) {
        const err = await store.issue(bad as Record<string, unknown>).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
      }
    });

    if (options.clockStore) {
      const clockStore = options.clockStore;
      describe("expiry (injected clock)", () => {
        let now: number;
        let clocked: StateStoreHandle | undefined;
        beforeEach(() => {
          now = Date.UTC(2024, 10, 25, 8, 0, 0, 123);
          clocked = undefined;
        });
        afterEach(async () => {
          await clocked?.cleanup?.();
        });

        it("defaults to a 600-second lifetime", async () => {
          clocked = await clockStore(() => now);
          const early = await clocked.store.issue({ which: "early" });
          const late = await clocked.store.issue({ which: "late" });
          now += 599_000;
          expect(await clocked.store.consume(early)).toStrictEqual({ which: "early" });
          now += 2_000;
          expect(await clocked.store.consume(late)).toBeUndefined();
        });

        it("honours ttlSeconds, and an expired state stays gone", async () => {
          clocked = await clockStore(() => now, 60);
          const a = await clocked.store.issue({ a: 1 });
          const b = await clocked.store.issue({ b: 1 });
          now += 59_000;
          expect(await clocked.store.consume(a)).toStrictEqual({ a: 1 });
          now += 2_000;
          expect(await clocked.store.consume(b)).toBeUndefined();
          now -= 10_000; // a clock stepping back must not resurrect a state that was found expired
          expect(await clocked.store.consume(b)).toBeUndefined();
          const c = await clocked.store.issue({ c: 1 });
          expect(await clocked.store.consume(c)).toStrictEqual({ c: 1 });
        });

        it("inspect says expired past the lifetime, without consuming anything", async () => {
          clocked = await clockStore(() => now, 60);
          const state = await clocked.store.issue({ n: 1 });
          now += 59_000;
          expect(await clocked.store.inspect?.(state)).toBe("live");
          now += 2_000;
          expect(await clocked.store.inspect?.(state)).toBe("expired");
          expect(await clocked.store.consume(state)).toBeUndefined();
          expect(await clocked.store.inspect?.(state)).toBe("expired");
        });

        it("a state issued later lives its own full lifetime", async () => {
          clocked = await clockStore(() => now, 60);
          const first = await clocked.store.issue({ n: 1 });
          now += 50_000;
          const second = await clocked.store.issue({ n: 2 });
          now += 20_000;
          expect(await clocked.store.consume(first)).toBeUndefined();
          expect(await clocked.store.consume(second)).toStrictEqual({ n: 2 });
        });
      });
    }

    if (options.ttlStore) {
      const ttlStore = options.ttlStore;
      it("expires states after ttlSeconds of real time", async () => {
        const h = await ttlStore(1);
        try {
          const fresh = await h.store.issue({ fresh: true });
          const stale = await h.store.issue({ stale: true });
          expect(await h.store.consume(fresh)).toStrictEqual({ fresh: true });
          await sleep(2_100);
          expect(await h.store.consume(stale)).toBeUndefined();
        } finally {
          await h.cleanup?.();
        }
      });
    }

    if (options.multiProcess) {
      const mp = options.multiProcess;
      it("several OS processes consuming the same states at once: exactly one gets each", async () => {
        const datas = Array.from({ length: 8 }, (_, i) => ({ i, nonce: randomUUID() }));
        const states = await Promise.all(datas.map((d) => store.issue(d)));
        const n = mp.processes ?? 4;
        const children: ChildProcessWithoutNullStreams[] = [];
        const outputs: string[][] = [];
        const ready: Promise<void>[] = [];
        const done: Promise<number | null>[] = [];
        for (let i = 0; i < n; i++) {
          const child = spawn(mp.command, mp.args(states), {
            env: { ...process.env, ...mp.env },
            stdio: ["pipe", "pipe", "pipe"],
          });
          children.push(child);
          const lines: string[] = [];
          outputs.push(lines);
          let stderr = "";
          child.stderr.on("data", (b: Buffer) => {
            stderr += b.toString();
          });
          const rl = createInterface({ input: child.stdout });
          ready.push(
            new Promise((resolve, reject) => {
              rl.on("line", (line) => {
                if (line === "ready") resolve();
                else lines.push(line);
              });
              child.on("exit", (code) => reject(new Error(`child exited (${code}) before ready: ${stderr}`)));
            }),
          );
          done.push(
            new Promise((resolve) => {
              child.on("exit", (code) => {
                if (code !== 0) console.error(stderr);
                resolve(code);
              });
            }),
          );
        }
        try {
          await Promise.all(ready);
          for (const c of children) c.stdin.write("go\n");
          expect(await Promise.all(done)).toStrictEqual(Array(n).fill(0));
        } finally {
          for (const c of children) if (c.exitCode === null) c.kill();
        }
        const results = outputs.map((lines) =>
          lines.map((l) => JSON.parse(l) as { state: string; data: Record<string, unknown> | null }),
        );
        for (const r of results) expect(r.map((x) => x.state)).toStrictEqual(states);
        for (let k = 0; k < states.length; k++) {
          const winners = results.map((r) => r[k]?.data).filter((d) => d !== null && d !== undefined);
          expect(winners).toStrictEqual([datas[k]]); // state #k: exactly one winner
        }
        // And the parent sees them all consumed.
        for (const s of states) expect(await store.consume(s)).toBeUndefined();
      }, 60_000);
    }

    if (options.appStores) {
      const open = options.appStores;
      it("app isolation: a state issued for app A is refused on app B's callback, and B cannot spend A's", async () => {
        const apps = await open();
        try {
          const [A, B] = ["1111111111.1111111111", "2222222222.2222222222"];
          const data = nestedData();
          const forA = await issueAppState(apps.a, A, data);
          const forB = await issueAppState(apps.b, B, { t: "b" });
          // A's state at B: refused (B cannot find it in a partitioned store, or finds it is A's).
          const wrong = await consumeAppState(apps.b, forA, B);
          expect(wrong.ok).toBe(false);
          if (!wrong.ok) expect(["other_app", "unknown"]).toContain(wrong.reason);
          // A partitioned store (B never saw it) still lets A use it; a shared one spent it at B.
          const atA = await consumeAppState(apps.a, forA, A);
          if (wrong.ok === false && wrong.reason === "unknown") expect(atA).toStrictEqual({ ok: true, data });
          else expect(atA.ok).toBe(false);
          expect(await consumeAppState(apps.b, forB, B)).toStrictEqual({ ok: true, data: { t: "b" } });
          expect((await consumeAppState(apps.b, forB, B)).ok).toBe(false);
          // A state issued without an app (0.1) is still accepted.
          const legacy = await apps.a.issue({ t: "old" });
          expect(await consumeAppState(apps.a, legacy, A)).toStrictEqual({ ok: true, data: { t: "old" } });
        } finally {
          await apps.cleanup?.();
        }
      });
    }
  });
}
