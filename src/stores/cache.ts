/**
 * The cache layer in front of any {@link InstallationStore}: an in-process LRU + TTL map, invalidated on
 * every write through it and, through an {@link InvalidationBus}, on every other instance's writes.
 */

import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError } from "../errors.js";
import type { Bot, Installation } from "../model/installation.js";
import type { EncryptionMarker } from "./encryption-marker.js";
import type { ExpiringToken, HealthEntry, TokenHealth } from "./health.js";
import {
  type BotQuery,
  checkEnterpriseId,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  type LockOptions,
  partitionOf,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "./installation-store.js";
import { checkQuery, requireStore } from "./store-helpers.js";

/**
 * Options of {@link LruTtlCache}.
 *
 * @example
 * ```ts
 * const options: LruTtlCacheOptions = { maxEntries: 1000, ttlMs: 60_000 };
 * ```
 */
export interface LruTtlCacheOptions {
  /** Most entries kept (default 10,000); the least recently used goes first. */
  maxEntries?: number | undefined;
  /**
   * Default time to live of an entry, in ms.
   *
   * @default 60,000
   */
  ttlMs?: number | undefined;
  /** Clock in epoch ms (tests). */
  nowMs?: (() => number) | undefined;
}

/** An entry of {@link LruTtlCache}: a node of its recency list (oldest first). */
interface LruNode<V> {
  key: string;
  value: V;
  expiresAt: number;
  older: LruNode<V> | undefined;
  newer: LruNode<V> | undefined;
}

/**
 * A small least-recently-used map whose entries also expire after a time to live. O(1) get/set/delete:
 * a `Map` finds the entry, a doubly linked list keeps the order of use (a hit moves its node to the
 * newest end by relinking it: no map write on the hot path), eviction takes the oldest.
 *
 * @example
 * ```ts
 * const cache = new LruTtlCache<string>({ maxEntries: 1000, ttlMs: 60_000 });
 * cache.set("T1", "value");
 * cache.get("T1"); // "value" until evicted or expired
 * ```
 */
export class LruTtlCache<V> {
  readonly #map = new Map<string, LruNode<V>>();
  #oldest: LruNode<V> | undefined;
  #newest: LruNode<V> | undefined;
  readonly #max: number;
  readonly #ttl: number;
  readonly #now: () => number;

  constructor(options: LruTtlCacheOptions = {}) {
    rejectRenamedClock(options, "LruTtlCache", { now: "nowMs" });
    this.#max = options.maxEntries ?? 10_000;
    this.#ttl = options.ttlMs ?? 60_000;
    this.#now = options.nowMs ?? Date.now;
    if (!(Number.isInteger(this.#max) && this.#max > 0))
      throw new CodedTypeError("maxEntries must be a positive integer");
    if (!(typeof this.#ttl === "number" && this.#ttl > 0)) throw new CodedTypeError("ttlMs must be a positive number");
  }

  /** Entries held (expired ones included until they are next read or evicted). */
  get size(): number {
    return this.#map.size;
  }

  /** The value, or `undefined` when absent or expired; a hit becomes the most recently used. */
  get(key: string): V | undefined {
    const node = this.#map.get(key);
    if (node === undefined) return undefined;
    if (node.expiresAt <= this.#now()) {
      this.#remove(node);
      return undefined;
    }
    if (node !== this.#newest) {
      this.#unlink(node);
      this.#append(node);
    }
    return node.value;
  }

  /** Stores a value (the most recently used), evicting the least recently used past `maxEntries`. */
  set(key: string, value: V, ttlMs: number = this.#ttl): void {
    const expiresAt = this.#now() + ttlMs;
    const existing = this.#map.get(key);
    if (existing !== undefined) {
      existing.value = value;
      existing.expiresAt = expiresAt;
      if (existing !== this.#newest) {
        this.#unlink(existing);
        this.#append(existing);
      }
      return;
    }
    const node: LruNode<V> = { key, value, expiresAt, older: undefined, newer: undefined };
    this.#map.set(key, node);
    this.#append(node);
    while (this.#map.size > this.#max && this.#oldest !== undefined) this.#remove(this.#oldest);
  }

  delete(key: string): boolean {
    const node = this.#map.get(key);
    if (node === undefined) return false;
    this.#remove(node);
    return true;
  }

  /** Deletes every key that starts with `prefix`. O(n): used only on writes, which are rare. */
  deletePrefix(prefix: string): number {
    let n = 0;
    for (const [key, node] of this.#map) {
      if (key.startsWith(prefix)) {
        this.#remove(node);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#map.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
  }

  #remove(node: LruNode<V>): void {
    this.#map.delete(node.key);
    this.#unlink(node);
  }

  #unlink(node: LruNode<V>): void {
    if (node.older === undefined) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.#newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  #append(node: LruNode<V>): void {
    node.older = this.#newest;
    node.newer = undefined;
    if (this.#newest === undefined) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
  }
}

/**
 * Which workspace (or org, with `enterpriseId` and no `teamId`) changed. A message naming neither drops
 * everything.
 *
 * @example
 * ```ts
 * const message: InvalidationMessage = { enterpriseId: "E0123", teamId: "T0123" };
 * ```
 */
export interface InvalidationMessage {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  /**
   * The app partition (client id) written to; absent for the default partition. A cache drops entries
   * only for messages of its own app, so an uninstall of one app never touches another app's entries.
   * A message naming nothing at all (no app, no workspace) still drops everything, in every app.
   */
  clientId?: string | undefined;
}

/**
 * Carries cache invalidations between instances (processes, hosts). `publish` is called after every
 * write; `subscribe`d handlers drop their local entries. A Redis implementation uses pub/sub; this is the
 * hook for any other transport.
 *
 * @example
 * ```ts
 * const bus = new LocalInvalidationBus();
 * const a = new CachingInstallationStore(store, { invalidation: bus });
 * const b = new CachingInstallationStore(store, { invalidation: bus });
 * await a.deleteAll({ teamId: "T0123" }); // b forgets T0123 too
 * ```
 */
export interface InvalidationBus {
  /** Tells every process sharing the bus to drop the cached entries of a workspace. */
  publish(message: InvalidationMessage): Promise<void>;
  /** Registers a handler; returns a function that unsubscribes it. */
  subscribe(handler: (message: InvalidationMessage) => void): () => void;
}

/**
 * An in-process {@link InvalidationBus} (several caches in one process, tests). A failing handler does
 * not keep the others from running.
 *
 * @example
 * ```ts
 * const bus = new LocalInvalidationBus();
 * const unsubscribe = bus.subscribe((m) => console.log("changed", m.teamId ?? m.enterpriseId));
 * ```
 */
export class LocalInvalidationBus implements InvalidationBus {
  readonly #handlers = new Set<(m: InvalidationMessage) => void>();
  async publish(message: InvalidationMessage): Promise<void> {
    for (const h of [...this.#handlers]) {
      try {
        h({ ...message });
      } catch {
        // one subscriber's failure is its own business
      }
    }
  }
  subscribe(handler: (message: InvalidationMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }
}

/**
 * Options of {@link CachingInstallationStore}.
 *
 * @example
 * ```ts
 * const options: CacheOptions = { maxEntries: 50_000, ttlMs: 30_000, invalidation: new LocalInvalidationBus() };
 * ```
 */
export interface CacheOptions {
  /**
   * Most entries kept.
   *
   * @default 10,000
   */
  maxEntries?: number | undefined;
  /**
   * How long an entry may be served without asking the store, in ms.
   *
   * @default 60,000
   */
  ttlMs?: number | undefined;
  /**
   * How long "this user has no installation of their own" is remembered, in ms (default 10,000; 0 turns it
   * off). Most users never install, and `authorize` asks for the requesting user's installation on every
   * request: without this every such request would reach the store. Writes through any cache on the bus
   * drop it at once; without a bus another instance's new user install shows after this long. Workspace-
   * level misses (no bot, no installation) are never cached, so a new install is always visible at once.
   */
  missTtlMs?: number | undefined;
  /** Cross-instance invalidation; without it other instances' writes show after `ttlMs`. */
  invalidation?: InvalidationBus | undefined;
  /**
   * Called when publishing an invalidation fails (the bus is down). The write itself succeeded and is not
   * failed for it; other instances then see it after `ttlMs`. Default: ignored.
   */
  onInvalidationError?: ((error: unknown) => void) | undefined;
  /** Clock in epoch ms (tests). */
  nowMs?: (() => number) | undefined;
}

/** A cached "no installation of this user" answer. */
const MISS = Symbol("miss");

/**
 * What `authorize` needs for one request, cached as one entry: the workspace's latest bot and the
 * requesting user's own installation. Shared, frozen objects: read them, never change them.
 */
export interface AuthorizeLookup {
  readonly bot: Readonly<Bot> | undefined;
  readonly own: Readonly<Installation> | undefined;
}

// Keys: a workspace is `w:<team>|<enterprise>|`, an org (org-wide installs, or a query without a team, as
// every store reads it) `o:<enterprise>|`. Ids never hold `|` (validated), so a prefix names exactly one
// workspace; the team comes first so that a write to a workspace drops it under any enterprise id.
function workspacePrefix(teamId: string, enterpriseId: string | undefined): string {
  return `w:${teamId}|${enterpriseId ?? ""}|`;
}
function orgPrefix(enterpriseId: string | undefined): string {
  return `o:${enterpriseId ?? ""}|`;
}
function prefixOf(q: InstallationQuery): string {
  return q.isEnterpriseInstall === true || !q.teamId
    ? orgPrefix(q.enterpriseId)
    : workspacePrefix(q.teamId, q.enterpriseId);
}

/**
 * An LRU + TTL cache in front of any {@link InstallationStore}: lookups are served from memory; every
 * write through it (save, deletes) drops the workspace's entries here and, through the optional
 * {@link InvalidationBus}, in every other instance. Workspace-level misses are not cached, so a new install
 * is visible at once; a user's "no installation of their own" is, briefly (`missTtlMs`). Returned objects
 * are fresh copies, as from the store.
 *
 * A lookup that was in flight while an invalidation happened does not fill the cache (a generation
 * counter), so a read racing with a write never brings stale tokens back.
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
  /** The store behind the cache. */
  readonly inner: InstallationStore;
  /** The wrapped store's encryption marker (an `EncryptedInstallationStore` may sit on the cache). */
  readonly encryptionMarker?: EncryptionMarker | undefined;
  readonly #cache: LruTtlCache<Bot | Installation | AuthorizeLookup | TeamAccess | typeof MISS>;
  readonly #missTtl: number;
  readonly #bus: InvalidationBus | undefined;
  readonly #onBusError: ((error: unknown) => void) | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  /** Bumped by every invalidation: a lookup that started before it must not fill the cache. */
  #generation = 0;
  /** The wrapped store's app partition (`''`: the default one). */
  readonly clientId: string;
  /** What every key of this cache starts with: the app partition, so entries carry their app. */
  readonly #p: string;

  constructor(inner: InstallationStore, options: CacheOptions = {}) {
    rejectRenamedClock(options, "CachingInstallationStore", { now: "nowMs" });
    requireStore(inner, "CachingInstallationStore");
    this.inner = inner;
    this.encryptionMarker = inner.encryptionMarker;
    this.clientId = partitionOf(inner);
    this.#p = `${this.clientId}#`;
    this.#cache = new LruTtlCache({ maxEntries: options.maxEntries, ttlMs: options.ttlMs, nowMs: options.nowMs });
    this.#missTtl = options.missTtlMs ?? 10_000;
    if (!(typeof this.#missTtl === "number" && this.#missTtl >= 0)) {
      throw new CodedTypeError("CachingInstallationStore: missTtlMs must be a number >= 0");
    }
    this.#bus = options.invalidation;
    this.#onBusError = options.onInvalidationError;
    this.#unsubscribe = this.#bus?.subscribe((m) => this.#drop(m));
  }

  /** Entries currently cached (for tests and metrics). */
  get size(): number {
    return this.#cache.size;
  }

  async findBot(q: BotQuery): Promise<Bot | undefined> {
    const key = `${this.#p}${prefixOf(checkQuery(q, "findBot"))}bot`;
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit !== MISS) return copy(hit as Bot);
    const generation = this.#generation;
    const bot = await this.inner.findBot(q);
    if (bot !== undefined && generation === this.#generation) this.#cache.set(key, copy(bot));
    return bot;
  }

  /**
   * The hot path of `authorize`: the workspace's latest bot and `userId`'s own installation in one cache
   * entry, returned as shared frozen objects without copying (callers must not change them). Same
   * invalidation as every other entry of the workspace; an entry without the user's own installation lives
   * `missTtlMs` at most. `q` must already be a valid query (authorize validates it).
   *
   * @example
   * ```ts
   * const { bot, own } = await cachingStore.findForAuthorize({ teamId: "T1" }, "U1");
   * ```
   */
  async findForAuthorize(q: BotQuery, userId: string | undefined): Promise<AuthorizeLookup> {
    return this.peekForAuthorize(q, userId) ?? this.#loadForAuthorize(q, userId);
  }

  /**
   * The cached entry {@link findForAuthorize} would answer, without a promise; `undefined` when it is not
   * cached (then call `findForAuthorize`). For `authorize`'s hot path.
   *
   * @example
   * ```ts
   * const lookup = cachingStore.peekForAuthorize({ teamId: "T1" }, "U1") ?? (await cachingStore.findForAuthorize({ teamId: "T1" }, "U1"));
   * ```
   */
  peekForAuthorize(q: BotQuery, userId: string | undefined): AuthorizeLookup | undefined {
    return this.#cache.get(`${this.#p}${prefixOf(q)}a:${userId ?? ""}`) as AuthorizeLookup | undefined;
  }

  async #loadForAuthorize(q: BotQuery, userId: string | undefined): Promise<AuthorizeLookup> {
    const key = `${this.#p}${prefixOf(q)}a:${userId ?? ""}`;
    const generation = this.#generation;
    const [bot, mine] = await Promise.all([
      this.inner.findBot(q),
      userId !== undefined ? this.inner.findInstallation({ ...q, userId }) : undefined,
    ]);
    const own = mine !== undefined && mine.userId === userId ? mine : undefined;
    const entry: AuthorizeLookup = Object.freeze({
      // Copied before freezing: a custom store may hand out its own objects.
      bot: bot === undefined ? undefined : deepFreeze(structuredClone(bot)),
      own: own === undefined ? undefined : deepFreeze(structuredClone(own)),
    });
    if (generation === this.#generation && (bot !== undefined || own !== undefined)) {
      if (own !== undefined || userId === undefined) this.#cache.set(key, entry);
      else if (this.#missTtl > 0) this.#cache.set(key, entry, this.#missTtl);
    }
    return entry;
  }

  async findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    const n = checkQuery(q, "findInstallation");
    // `i:<user>` for a user's installation, `i:` for the workspace's latest (user ids are never empty).
    const key = `${this.#p}${prefixOf(n)}i:${n.userId ?? ""}`;
    const hit = this.#cache.get(key);
    if (hit === MISS) return undefined;
    if (hit !== undefined) return copy(hit as Installation);
    const generation = this.#generation;
    const installation = await this.inner.findInstallation(q);
    if (generation === this.#generation) {
      if (installation !== undefined) this.#cache.set(key, copy(installation));
      else if (n.userId && this.#missTtl > 0) this.#cache.set(key, MISS, this.#missTtl);
    }
    return installation;
  }

  /** Passes through to the wrapped store (uncached: listing is for admin tools). */
  listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    return this.inner.listWorkspaces(filter);
  }

  /**
   * Passes through to the wrapped store, then drops the workspace's entries here and, through the bus,
   * everywhere: a refreshed token is served at once.
   */
  async updateTokens(q: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    try {
      return await this.inner.updateTokens(q, patch, expect);
    } finally {
      await this.#invalidate(
        q?.isEnterpriseInstall === true ? { enterpriseId: q.enterpriseId } : (q as InvalidationMessage),
      );
    }
  }

  /** Passes through to the wrapped store: health fields are not cached (nothing to invalidate). */
  recordHealth(q: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    return this.inner.recordHealth(q, health, expect);
  }
  /** Passes through to the wrapped store (uncached: for admin tools and health reports). */
  listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    return this.inner.listHealth(filter);
  }
  /** Passes through to the wrapped store (uncached: the refresh scheduler's query). */
  listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    return this.inner.listExpiringTokens(untilSeconds, limit);
  }

  /**
   * The org's recorded workspaces, cached under the org's entries (an org-wide request reads it on every
   * lookup); dropped with them by any write to the org, here and through the bus.
   */
  async findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    const e = checkEnterpriseId(enterpriseId, "findTeamAccess");
    const key = `${this.#p}${orgPrefix(e)}ta`;
    const hit = this.#cache.get(key) as TeamAccess | undefined;
    if (hit !== undefined) return { granted: [...hit.granted], revoked: [...hit.revoked] };
    const generation = this.#generation;
    const access = await this.inner.findTeamAccess(e);
    if (generation === this.#generation)
      this.#cache.set(key, { granted: [...access.granted], revoked: [...access.revoked] });
    return access;
  }

  /**
   * The org's cached record, without a promise (`undefined` when not cached: then call
   * {@link findTeamAccess}). Shared: read it, never change it. For `authorize`'s hot path.
   *
   * @example
   * ```ts
   * const access = cachingStore.peekTeamAccess("E0123") ?? (await cachingStore.findTeamAccess("E0123"));
   * ```
   */
  peekTeamAccess(enterpriseId: string): Readonly<TeamAccess> | undefined {
    return this.#cache.get(`${this.#p}${orgPrefix(enterpriseId)}ta`) as TeamAccess | undefined;
  }

  /** Passes through to the wrapped store, then drops the org's entries here and, through the bus, everywhere. */
  async updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    try {
      await this.inner.updateTeamAccess(enterpriseId, change);
    } finally {
      if (typeof enterpriseId === "string" && enterpriseId) await this.#invalidate({ enterpriseId });
    }
  }

  /** The wrapped store's lock: the cache holds no lock of its own. */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.inner.withLock(key, fn, options);
  }

  async save(installation: Installation): Promise<void> {
    try {
      await this.inner.save(installation);
    } finally {
      // Invalidate even when the save failed: a backend may have written part of it.
      if (installation !== null && typeof installation === "object") {
        await this.#invalidate(
          installation.isEnterpriseInstall
            ? { enterpriseId: installation.enterpriseId }
            : { enterpriseId: installation.enterpriseId, teamId: installation.teamId },
        );
      }
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

  /**
   * Drops a workspace's (or, with `enterpriseId` alone, an org's) entries here and, through the bus,
   * everywhere. Call it after writing to the store behind the cache's back.
   *
   * @example
   * ```ts
   * await cached.invalidate({ enterpriseId: "E0123", teamId: "T0123" });
   * ```
   */
  async invalidate(q: InvalidationMessage): Promise<void> {
    await this.#invalidate(q);
  }

  /** Drops every entry of this instance (not of the others). */
  clear(): void {
    this.#generation++;
    this.#cache.clear();
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.clear();
    await this.inner.close();
  }

  async #invalidate(q: InvalidationMessage | null | undefined): Promise<void> {
    const message: InvalidationMessage = {};
    if (q !== null && typeof q === "object") {
      if (typeof q.enterpriseId === "string" && q.enterpriseId) message.enterpriseId = q.enterpriseId;
      if (typeof q.teamId === "string" && q.teamId) message.teamId = q.teamId;
    }
    if (this.clientId !== "") message.clientId = this.clientId;
    this.#drop(message);
    if (!this.#bus) return;
    try {
      await this.#bus.publish(message);
    } catch (error) {
      try {
        this.#onBusError?.(error);
      } catch {
        // a failing reporter must not fail a write that succeeded
      }
    }
  }

  #drop(m: InvalidationMessage): void {
    const app = typeof m?.clientId === "string" ? m.clientId : "";
    const enterpriseId = typeof m?.enterpriseId === "string" && m.enterpriseId ? m.enterpriseId : undefined;
    const teamId = typeof m?.teamId === "string" && m.teamId ? m.teamId : undefined;
    // Another app's write changes nothing here. (A message without a client id comes from the default
    // partition, as every 0.1 publisher's; one naming nothing at all, from a foreign publisher, drops all.)
    const named = app !== "" || enterpriseId !== undefined || teamId !== undefined;
    if (named && app !== this.clientId) return;
    this.#generation++;
    // A write to a workspace changes its keys under any enterprise id; a write without a team (org-wide
    // installs) those of the org.
    if (teamId !== undefined) this.#cache.deletePrefix(`${this.#p}w:${teamId}|`);
    else if (enterpriseId !== undefined) this.#cache.deletePrefix(`${this.#p}${orgPrefix(enterpriseId)}`);
    else this.#cache.clear();
  }
}

/** A deep enough copy: arrays and custom values are fresh, so callers cannot change what is cached. */
function copy<T extends Bot | Installation>(value: T): T {
  const out = { ...value } as T;
  if (Array.isArray(value.botScopes)) out.botScopes = [...value.botScopes];
  const cv = value.customValues;
  if (cv !== null && typeof cv === "object") out.customValues = isEmpty(cv) ? {} : structuredClone(cv);
  const scopes = (value as Partial<Installation>).userScopes;
  if (Array.isArray(scopes)) (out as Installation).userScopes = [...scopes];
  return out;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

/** Freezes an object and everything inside it (cached entries shared between callers). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
