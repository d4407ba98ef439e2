import { appendFile, chmod, mkdir, opendir, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { ConfigError, StoreError } from "../../errors.js";
import {
  type ConsumeResult,
  generateState,
  isWellFormedState,
  type StateStatus,
  type StateStore,
} from "../../state/state.js";
import { resolveStateTiming, type StateStoreTimingOptions, serializeStateData } from "../store-helpers.js";
import { DIR_MODE, FILE_MODE, isMissing, readJson, requireBaseDir, writeAtomic } from "./driver.js";

/**
 * Options of {@link FileStateStore}.
 *
 * @example
 * ```ts
 * const states = new FileStateStore({ baseDir: "./data/states", ttlSeconds: 600, cleanupIntervalSeconds: 60 });
 * ```
 */
export interface FileStateStoreOptions extends StateStoreTimingOptions {
  /** Directory holding one file per state (created with mode 0700; files are 0600). */
  baseDir: string;
  /**
   * The full-directory sweep (files no expiry index lists: written by an older version, or left by a
   * writer that crashed between its two writes) runs at most this often, in the background of a call
   * (default 60 seconds). Files listed in the expiry index are removed as their time slot ends, whatever
   * this interval.
   */
  cleanupIntervalSeconds?: number | undefined;
  /**
   * At most this many directory entries are examined per full-directory sweep.
   *
   * @default 10,000
   */
  cleanupBatchSize?: number | undefined;
}

/** A live state file: its expiry and data. */
interface StateFile {
  v: 1;
  expiresAt: number;
  data?: Record<string, unknown>;
}
/** What is left of a consumed state (`<state>.used`): why it is gone, until a lifetime after expiry. */
interface Tombstone {
  v: 1;
  expiresAt: number;
  status: "used" | "expired";
}

const STATE_FILE_RE = /^[A-Za-z0-9_-]{43}\.json$/;
/** The expiry index: `<baseDir>/.expiry/<slot>` lists the files that expire by `slot × slotMs`, one a line. */
const INDEX_DIR = ".expiry";
const INDEX_SLOT_RE = /^\d{1,15}$/;
const TOMBSTONE_RE = /^[A-Za-z0-9_-]{43}\.used$/;
/** Temp files older than this are leftovers of a crashed writer. */
const STALE_TMP_MS = 60 * 60 * 1000;

/**
 * A one-time {@link StateStore} on files, safe for several processes sharing `baseDir`: a state is
 * `<state>.json` (written atomically); consuming renames it to `<state>.used`, and since `rename` is
 * atomic only one process (or call) can win. The winner reads the data and overwrites the file with a
 * tombstone, kept one more lifetime so that {@link FileStateStore.consumeDetailed} can say "used".
 *
 * Cleanup keeps pace with any issue rate: each file is also listed, by its expiry, in a small append-only
 * index (`.expiry/<slot>`, a slot an eighth of the lifetime); when a slot ends, the next call removes the
 * files it lists and the index file itself — work proportional to what expires, never a scan of the live
 * states. So the directory holds at most about 1.15 × rate × lifetime state files (plus tombstones of
 * consumed states). A slower full-directory sweep (every `cleanupIntervalSeconds`) catches files no index
 * lists.
 *
 * @example
 * ```ts
 * import { FileStateStore } from "slack-oauth-kit/stores/file";
 * const states = new FileStateStore({ baseDir: "./data/states" });
 * const state = await states.issue({ redirectTo: "/" });
 * const data = await states.consume(state); // { redirectTo: "/" }, then undefined forever
 * ```
 */
export class FileStateStore implements StateStore {
  readonly #dir: string;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #cleanupIntervalMs: number;
  readonly #batch: number;
  #ready: Promise<void> | undefined;
  #lastCleanup = Number.NEGATIVE_INFINITY;
  #cleanup: Promise<unknown> | undefined;
  readonly #slotMs: number;
  #nextSlotEnd = Number.NEGATIVE_INFINITY;
  #indexSweep: Promise<unknown> | undefined;

  constructor(options: FileStateStoreOptions) {
    this.#dir = requireBaseDir(options?.baseDir, "FileStateStore");
    const t = resolveStateTiming(options);
    this.#ttlMs = t.ttlMs;
    this.#clock = t.clock;
    const every = options.cleanupIntervalSeconds ?? 60;
    if (typeof every !== "number" || !(every >= 0)) throw new ConfigError("cleanupIntervalSeconds must be >= 0");
    this.#cleanupIntervalMs = every * 1000;
    const batch = options.cleanupBatchSize ?? 10_000;
    if (!Number.isInteger(batch) || batch < 1) throw new ConfigError("cleanupBatchSize must be a positive integer");
    this.#batch = batch;
    this.#slotMs = Math.max(1000, Math.ceil(this.#ttlMs / 8));
  }

  /**
   * Issues a new state (256 random bits, base64url) and writes its file with a copy of `data`.
   *
   * @example
   * ```ts
   * const state = await states.issue({ redirectTo: "/welcome" });
   * ```
   */
  async issue(data?: Record<string, unknown>): Promise<string> {
    const json = serializeStateData(data);
    const now = this.#clock();
    await this.#ensureDir();
    const state = generateState();
    const expiresAt = now + this.#ttlMs;
    // Indexed first: a crash between the two writes leaves an index line for nothing, never a stray file.
    await this.#index(`${state}.json`, expiresAt);
    await writeAtomic(this.#dir, `${state}.json`, `{"v":1,"expiresAt":${expiresAt},"data":${json}}`);
    this.#maybeCleanup(now);
    return state;
  }

  /**
   * Consumes a state: its data the first time, `undefined` when malformed, unknown, expired or used.
   * A malformed state never touches the disk.
   *
   * @example
   * ```ts
   * const data = await states.consume(url.searchParams.get("state") ?? "");
   * ```
   */
  async consume(state: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.consumeDetailed(state);
    return r.ok ? r.data : undefined;
  }

  /**
   * Like {@link consume}, but says why a state was refused (`malformed`, `unknown`, `expired`, `used`).
   * A loser racing the winner of the same state may briefly see `unknown` rather than `used`.
   *
   * @example
   * ```ts
   * const r = await states.consumeDetailed(state);
   * if (!r.ok && r.reason === "expired") console.log("the link expired, start again");
   * ```
   */
  async consumeDetailed(state: string): Promise<ConsumeResult> {
    if (!isWellFormedState(state)) return { ok: false, reason: "malformed" };
    const now = this.#clock();
    const live = `${this.#dir}/${state}.json`;
    const usedName = `${state}.used`;
    const used = `${this.#dir}/${usedName}`;
    try {
      await rename(live, used); // atomic: exactly one caller, in any process, gets past this line
    } catch (e) {
      if (!isMissing(e)) throw new StoreError("file state store: cannot consume a state", { cause: e });
      this.#maybeCleanup(now);
      const t = (await readJson(used).catch(() => undefined)) as Partial<Tombstone> | undefined;
      if (t === undefined) return { ok: false, reason: "unknown" };
      return { ok: false, reason: t.status === "expired" ? "expired" : "used" };
    }
    const file = (await readJson(used).catch(() => undefined)) as Partial<StateFile> | undefined;
    const valid = file !== undefined && file !== null && typeof file.expiresAt === "number";
    const expiresAt = valid ? (file.expiresAt as number) : now;
    const status = valid && now < expiresAt ? "used" : "expired";
    // Scrub the data: only the tombstone stays, until a lifetime after expiry.
    await this.#index(usedName, expiresAt + this.#ttlMs);
    await writeAtomic(this.#dir, usedName, JSON.stringify({ v: 1, expiresAt, status } satisfies Tombstone));
    this.#maybeCleanup(now);
    if (!valid) return { ok: false, reason: "unknown" };
    if (status === "expired") return { ok: false, reason: "expired" };
    const data = file.data;
    return { ok: true, data: data !== null && typeof data === "object" && !Array.isArray(data) ? data : {} };
  }

  /**
   * What a state is right now, without consuming it (`live`, `unknown`, `expired`, `used`, `malformed`).
   * A malformed state never touches the disk.
   *
   * @example
   * ```ts
   * if ((await states.inspect(state)) === "used") console.log("this link was already used");
   * ```
   */
  async inspect(state: string): Promise<StateStatus> {
    if (!isWellFormedState(state)) return "malformed";
    const now = this.#clock();
    const live = (await readJson(`${this.#dir}/${state}.json`)) as Partial<StateFile> | null | undefined;
    if (live !== undefined) {
      if (live === null || typeof live.expiresAt !== "number") return "unknown";
      return now < live.expiresAt ? "live" : "expired";
    }
    // Between a consumer's rename and its tombstone write, `.used` still holds the data: that is "used" too.
    const t = (await readJson(`${this.#dir}/${state}.used`).catch(() => undefined)) as Partial<Tombstone> | undefined;
    if (t === undefined) return "unknown";
    return t?.status === "expired" ? "expired" : "used";
  }

  /**
   * Removes now every file past its lifetime (states and tombstones) and stale temp files; returns how
   * many. Not needed in normal use: calls clean up in the background.
   *
   * @example
   * ```ts
   * const removed = await states.removeExpired();
   * ```
   */
  async removeExpired(): Promise<number> {
    await this.#cleanup;
    await this.#indexSweep;
    const now = this.#clock();
    const indexed = await this.#sweepIndex(now);
    return indexed + (await this.#sweep(now, Number.POSITIVE_INFINITY, 0));
  }

  /**
   * Waits for a background cleanup to finish.
   *
   * @example
   * ```ts
   * await states.close();
   * ```
   */
  async close(): Promise<void> {
    await this.#cleanup;
    await this.#indexSweep;
  }

  #ensureDir(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.#dir, { recursive: true, mode: DIR_MODE });
      // mkdir's mode only applies when it creates the directory; states are secrets, so tighten it anyway.
      await chmod(this.#dir, DIR_MODE).catch(() => {});
    })().catch((cause) => {
      this.#ready = undefined;
      throw new StoreError(`file state store: cannot create ${this.#dir}`, { cause });
    });
    return this.#ready;
  }

  /** Lists `name` in the index slot of `removeAt` (appends one line; `O_APPEND` keeps lines whole). */
  async #index(name: string, removeAt: number): Promise<void> {
    const slot = Math.ceil(removeAt / this.#slotMs);
    const path = `${this.#dir}/${INDEX_DIR}/${slot}`;
    try {
      await appendFile(path, `${name}\n`, { mode: FILE_MODE });
    } catch (e) {
      if (!isMissing(e)) throw new StoreError("file state store: cannot write the expiry index", { cause: e });
      await mkdir(`${this.#dir}/${INDEX_DIR}`, { recursive: true, mode: DIR_MODE });
      await appendFile(path, `${name}\n`, { mode: FILE_MODE });
    }
  }

  /**
   * Removes the files listed in every index slot that has ended (all their files are past their time),
   * then the slot itself; returns how many files it removed.
   */
  async #sweepIndex(now: number): Promise<number> {
    const indexDir = `${this.#dir}/${INDEX_DIR}`;
    const slots = await readdir(indexDir).catch((e: unknown) => {
      if (isMissing(e)) return [] as string[];
      throw e;
    });
    let removed = 0;
    for (const slot of slots) {
      if (!INDEX_SLOT_RE.test(slot) || Number(slot) * this.#slotMs > now) continue;
      const path = `${indexDir}/${slot}`;
      const listed = await readFile(path, "utf8").catch(() => "");
      for (const name of listed.split("\n")) {
        if (!STATE_FILE_RE.test(name) && !TOMBSTONE_RE.test(name)) continue;
        await unlink(`${this.#dir}/${name}`).then(
          () => removed++,
          () => {},
        );
      }
      await unlink(path).catch(() => {});
    }
    return removed;
  }

  #maybeCleanup(now: number): void {
    if (now >= this.#nextSlotEnd && this.#indexSweep === undefined) {
      this.#nextSlotEnd = (Math.floor(now / this.#slotMs) + 1) * this.#slotMs;
      this.#indexSweep = this.#sweepIndex(now)
        .catch(() => 0)
        .finally(() => {
          this.#indexSweep = undefined;
        });
    }
    if (this.#cleanup !== undefined || now - this.#lastCleanup < this.#cleanupIntervalMs) return;
    this.#lastCleanup = now;
    this.#cleanup = this.#sweep(now, this.#batch, this.#ttlMs)
      .catch(() => 0)
      .finally(() => {
        this.#cleanup = undefined;
      });
  }

  /**
   * Examines at most `limit` entries: live states past expiry are removed; tombstones are kept `grace` ms
   * longer (so "used" and "expired" can still be told); temp files of crashed writers after an hour.
   */
  async #sweep(now: number, limit: number, grace: number): Promise<number> {
    let removed = 0;
    let seen = 0;
    let dir: Awaited<ReturnType<typeof opendir>>;
    try {
      dir = await opendir(this.#dir);
    } catch (e) {
      if (isMissing(e)) return 0;
      throw e;
    }
    try {
      for await (const entry of dir) {
        if (++seen > limit) break;
        const name = entry.name;
        const path = `${this.#dir}/${name}`;
        const isLive = STATE_FILE_RE.test(name);
        if (isLive || TOMBSTONE_RE.test(name)) {
          const rec = (await readJson(path).catch(() => null)) as { expiresAt?: unknown } | null | undefined;
          if (rec === undefined) continue;
          const exp = typeof rec?.expiresAt === "number" ? rec.expiresAt : Number.NEGATIVE_INFINITY;
          if (now >= exp + (isLive ? 0 : grace)) {
            await unlink(path).then(
              () => removed++,
              () => {},
            );
          }
        } else if (name.startsWith(".tmp-")) {
          const st = await stat(path).catch(() => undefined);
          if (st && Date.now() - st.mtimeMs > STALE_TMP_MS) await unlink(path).catch(() => {});
        }
      }
    } finally {
      await dir.close().catch(() => {});
    }
    return removed;
  }
}
