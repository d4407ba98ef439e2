import type { Bot, Installation } from "../model/installation.js";
import {
  type BotQuery,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  normalizeQuery,
  type WorkspaceQuery,
} from "./installation-store.js";

/**
 * A small least-recently-used map whose entries also expire after a time to live. O(1) get/set/delete
 * (a `Map` keeps insertion order: a hit is re-inserted at the end, eviction takes the first key).
 *
 * @example
 * ```ts
 * const cache = new LruTtlCache<string>({ maxEntries: 1000, ttlMs: 60_000 });
 * cache.set("T1", "value");
 * cache.get("T1"); // "value" until evicted or expired
 * ```
 */
export class LruTtlCache<V> {
  readonly #map = new Map<string, { value: V; expiresAt: number }>();
  readonly #max: number;
  readonly #ttl: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; ttlMs?: number; now?: () => number } = {}) {
    this.#max = options.maxEntries ?? 10_000;
    this.#ttl = options.ttlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    if (!(Number.isInteger(this.#max) && this.#max > 0)) throw new TypeError("maxEntries must be a positive integer");
    if (!(this.#ttl > 0)) throw new TypeError("ttlMs must be a positive number");
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#map.delete(key);
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number = this.#ttl): void {
    this.#map.delete(key);
    this.#map.set(key, { value, expiresAt: this.#now() + ttlMs });
    while (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  /** Deletes every key that starts with `prefix`. O(n): used only on writes, which are rare. */
  deletePrefix(prefix: string): number {
    let n = 0;
    for (const key of this.#map.keys()) {
      if (key.startsWith(prefix)) {
        this.#map.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#map.clear();
  }
}

/** Which workspace (or org, with no `teamId`) changed. */
export interface InvalidationMessage {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
}

/**
 * Carries cache invalidations between instances (processes, hosts). `publish` is called after every
 * write; `subscribe`d handlers drop their local entries. The Redis implementation uses pub/sub.
 *
 * @example
 * ```ts
 * const bus = new LocalInvalidationBus();
 * const a = new CachingInstallationStore(storeA, { invalidation: bus });
 * const b = new CachingInstallationStore(storeB, { invalidation: bus });
 * ```
 */
export interface InvalidationBus {
  publish(message: InvalidationMessage): Promise<void>;
  /** Registers a handler; returns a function that unsubscribes it. */
  subscribe(handler: (message: InvalidationMessage) => void): () => void;
}

/** An in-process {@link InvalidationBus} (several caches in one process, tests). */
export class LocalInvalidationBus implements InvalidationBus {
  readonly #handlers = new Set<(m: InvalidationMessage) => void>();
  async publish(message: InvalidationMessage): Promise<void> {
    for (const h of this.#handlers) h(message);
  }
  subscribe(handler: (message: InvalidationMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }
}

/** Options of {@link CachingInstallationStore}. */
export interface CacheOptions {
  /** Most entries kept (default 10,000). */
  maxEntries?: number;
  /** How long an entry may be served without asking the store, in ms (default 60,000). */
  ttlMs?: number;
  /** Cross-instance invalidation (e.g. `RedisCache`); without it other instances' writes show after `ttlMs`. */
  invalidation?: InvalidationBus;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

/** The cache key prefix of a workspace, or of an org for org-wide installs. */
function workspaceKey(enterpriseId: string | undefined, teamId: string | undefined, orgWide: boolean): string {
  return orgWide ? `o:${enterpriseId ?? ""}|` : `w:${enterpriseId ?? ""}|${teamId ?? ""}|`;
}

/**
 * An LRU + TTL cache in front of any {@link InstallationStore}: lookups are served from memory; every
 * write through it (save, deletes) drops the workspace's entries here and, through the optional
 * {@link InvalidationBus}, in every other instance. Misses are not cached, so a new install is visible at
 * once. Returned objects are fresh copies, as from the store.
 *
 * @example
 * ```ts
 * import { CachingInstallationStore } from "slack-oauth-kit";
 * import { SQLiteInstallationStore } from "slack-oauth-kit/stores/sqlite";
 *
 * const store = new CachingInstallationStore(new SQLiteInstallationStore({ filename: "./data/app.db" }), { ttlMs: 60_000 });
 * const bot = await store.findBot({ teamId: "T0123" }); // second call: from memory
 * ```
 */
export class CachingInstallationStore implements InstallationStore {
  readonly inner: InstallationStore;
  readonly #cache: LruTtlCache<Bot | Installation>;
  readonly #bus: InvalidationBus | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  /** Bumped by every invalidation: a lookup that started before it must not fill the cache. */
  #generation = 0;

  constructor(inner: InstallationStore, options: CacheOptions = {}) {
    this.inner = inner;
    this.#cache = new LruTtlCache({
      maxEntries: options.maxEntries ?? 10_000,
      ttlMs: options.ttlMs ?? 60_000,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#bus = options.invalidation;
    this.#unsubscribe = this.#bus?.subscribe((m) => this.#drop(m));
  }

  /** Entries currently cached (for tests and metrics). */
  get size(): number {
    return this.#cache.size;
  }

  async findBot(q: BotQuery): Promise<Bot | undefined> {
    const n = normalizeQuery(q, "findBot");
    const key = `${workspaceKey(n.enterpriseId, n.teamId, n.isEnterpriseInstall === true)}bot`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return copy(hit as Bot);
    const generation = this.#generation;
    const bot = await this.inner.findBot(q);
    if (bot !== undefined && generation === this.#generation) this.#cache.set(key, copy(bot));
    return bot;
  }

  async findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    const n = normalizeQuery(q, "findInstallation");
    const key = `${workspaceKey(n.enterpriseId, n.teamId, n.isEnterpriseInstall === true)}i:${n.userId ?? ""}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return copy(hit as Installation);
    const generation = this.#generation;
    const installation = await this.inner.findInstallation(q);
    if (installation !== undefined && generation === this.#generation) this.#cache.set(key, copy(installation));
    return installation;
  }

  async save(installation: Installation): Promise<void> {
    try {
      await this.inner.save(installation);
    } finally {
      await this.#invalidate({
        enterpriseId: installation.enterpriseId,
        teamId: installation.isEnterpriseInstall ? undefined : installation.teamId,
      });
    }
  }

  async deleteBot(q: WorkspaceQuery): Promise<void> {
    try {
      await this.inner.deleteBot(q);
    } finally {
      await this.#invalidate(q);
    }
  }

  async deleteInstallation(q: DeleteInstallationQuery): Promise<void> {
    try {
      await this.inner.deleteInstallation(q);
    } finally {
      await this.#invalidate(q);
    }
  }

  async deleteAll(q: WorkspaceQuery): Promise<void> {
    try {
      await this.inner.deleteAll(q);
    } finally {
      await this.#invalidate(q);
    }
  }

  /** Drops this workspace's (or org's) entries here and, through the bus, everywhere. */
  async invalidate(q: InvalidationMessage): Promise<void> {
    await this.#invalidate(q);
  }

  /** Drops every entry of this instance. */
  clear(): void {
    this.#generation++;
    this.#cache.clear();
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#cache.clear();
    await this.inner.close?.();
  }

  async #invalidate(m: InvalidationMessage): Promise<void> {
    this.#drop(m);
    if (this.#bus) await this.#bus.publish({ enterpriseId: m.enterpriseId, teamId: m.teamId });
  }

  #drop(m: InvalidationMessage): void {
    this.#generation++;
    // A workspace write changes that workspace's keys; an org-wide write (no team) those of the org.
    if (m.teamId) this.#cache.deletePrefix(workspaceKey(m.enterpriseId, m.teamId, false));
    else this.#cache.deletePrefix(workspaceKey(m.enterpriseId, undefined, true));
    // Same workspace written without its enterprise id (or vice versa) must not leave stale entries.
    if (m.teamId && m.enterpriseId) this.#cache.deletePrefix(workspaceKey(undefined, m.teamId, false));
  }
}

function copy<T extends Bot | Installation>(value: T): T {
  const cv = value.customValues;
  const out = { ...value, botScopes: [...value.botScopes], customValues: isEmpty(cv) ? {} : structuredClone(cv) } as T;
  if ("userScopes" in value) (out as Installation).userScopes = [...(value as Installation).userScopes];
  return out;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}
