/**
 * {@link KvCachedInstallationStore}: Workers KV as a read cache in front of an installation store (the D1
 * store). Only installation lookups are cached; states, locks and token rotation never touch KV.
 */
import { CodedTypeError } from "../../errors.js";
import type { Bot, Installation } from "../../model/installation.js";
import type { EncryptionMarker } from "../encryption-marker.js";
import type { ExpiringToken, HealthEntry, TokenHealth } from "../health.js";
import {
  type BotQuery,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  type LockOptions,
  normalizeQuery,
  partitionOf,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  validateInstallation,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "../installation-store.js";
import { requireStore } from "../store-helpers.js";

/**
 * The part of a Workers KV binding (`env.CACHE`) this library uses, written out so that the library
 * compiles without `@cloudflare/workers-types`; a real `KVNamespace` fits it as is.
 *
 * @example
 * ```ts
 * const kv: KvNamespace = env.INSTALLATION_CACHE;
 * ```
 * @see https://developers.cloudflare.com/kv/api/
 */
export interface KvNamespace {
  /** Reads a value as text; `null` when absent. */
  get(key: string): Promise<string | null>;
  /** Writes a value that expires after `expirationTtl` seconds (at least 60). */
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  /** Deletes a key. */
  delete(key: string): Promise<void>;
  /** Lists keys starting with `prefix`, a page at a time. */
  list(options?: { prefix?: string; cursor?: string | null }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

/**
 * Options of {@link KvCachedInstallationStore}.
 *
 * @example
 * ```ts
 * const options: KvCacheOptions = { namespace: env.INSTALLATION_CACHE, ttlSeconds: 60 };
 * ```
 */
export interface KvCacheOptions {
  /** The KV binding. */
  namespace: KvNamespace;
  /**
   * How long an entry lives in KV, in seconds (KV's minimum is 60). The longest a lookup can be stale,
   * see {@link KvCachedInstallationStore}.
   *
   * @default 60
   */
  ttlSeconds?: number | undefined;
  /**
   * What every key starts with, so that several apps or environments can share a namespace.
   *
   * @default `slack-oauth-kit:`
   */
  keyPrefix?: string | undefined;
}

const KEY_PREFIX_RE = /^[A-Za-z0-9_.:-]{0,64}$/;

/**
 * Workers KV as a read cache in front of an installation store (normally {@link D1InstallationStore}):
 * `findBot` and `findInstallation` are answered from KV when it has the entry, else from the store, and
 * the answer is put in KV for `ttlSeconds`. Misses are never cached, so a new install is seen at once.
 * Every write through this wrapper (save, deletes, token updates) goes to the store first, then deletes
 * every KV entry of that workspace.
 *
 * Staleness, stated plainly: KV is eventually consistent. A deletion made in one Cloudflare location
 * reaches the others within about 60 seconds, and a lookup that read the store just before a write may
 * put the old answer back. So, in another location (or after such a race), a lookup may return the
 * installation as it was for up to `ttlSeconds` plus KV's propagation delay after a change: a rotated
 * token (the old one still works until it expires), or an uninstalled workspace (Slack refuses its
 * tokens). Never put what must be exact in KV: OAuth states, locks and the compare-and-set of token
 * rotation all go to the store (D1), never through KV. KV holds what the store returns: wrap this cache
 * in `EncryptedInstallationStore` (not the other way round) and KV only ever holds ciphertexts.
 *
 * @example
 * ```ts
 * import { D1InstallationStore, KvCachedInstallationStore } from "slack-oauth-kit/stores/d1";
 * const store = new KvCachedInstallationStore(new D1InstallationStore({ database: env.DB }), {
 *   namespace: env.INSTALLATION_CACHE,
 * });
 * const bot = await store.findBot({ teamId: "T0123" }); // second call within 60 s: from KV
 * ```
 */
export class KvCachedInstallationStore implements InstallationStore {
  /** The store behind the cache. */
  readonly inner: InstallationStore;
  /** The KV binding. */
  readonly namespace: KvNamespace;
  /** The wrapped store's encryption marker (an `EncryptedInstallationStore` may sit on the cache). */
  readonly encryptionMarker?: EncryptionMarker | undefined;
  /** The wrapped store's app partition (`''`: the default one). */
  readonly clientId: string;
  readonly #ttl: number;
  readonly #prefix: string;

  constructor(inner: InstallationStore, options: KvCacheOptions) {
    requireStore(inner, "KvCachedInstallationStore");
    const ns = options?.namespace as unknown;
    if (ns === null || typeof ns !== "object" || typeof (ns as KvNamespace).get !== "function") {
      throw new CodedTypeError("KvCachedInstallationStore: namespace must be a KV binding (env.MY_KV)");
    }
    const ttl = options.ttlSeconds ?? 60;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 60) {
      throw new CodedTypeError("KvCachedInstallationStore: ttlSeconds must be an integer >= 60 (KV's minimum)");
    }
    const keyPrefix = options.keyPrefix ?? "slack-oauth-kit:";
    if (typeof keyPrefix !== "string" || !KEY_PREFIX_RE.test(keyPrefix)) {
      throw new CodedTypeError("KvCachedInstallationStore: keyPrefix must match /^[A-Za-z0-9_.:-]{0,64}$/");
    }
    this.inner = inner;
    this.namespace = ns as KvNamespace;
    this.encryptionMarker = inner.encryptionMarker;
    this.clientId = partitionOf(inner);
    this.#ttl = ttl;
    // The client id is printable ASCII (validated by the store); encoded so that ':' stays a separator.
    this.#prefix = `${keyPrefix}${encodeURIComponent(this.clientId)}:`;
  }

  /** `<prefix><client>:<enterprise>:<team>:` (ids validated by `normalizeQuery`: no ':' in them). */
  #workspace(q: InstallationQuery): string {
    const org = q.isEnterpriseInstall === true;
    return `${this.#prefix}${q.enterpriseId ?? ""}:${org ? "" : (q.teamId ?? "")}:`;
  }

  async #cached<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = await this.namespace.get(key).catch(() => null);
    if (hit !== null) {
      try {
        return JSON.parse(hit) as T;
      } catch {
        // Not ours, or cut short: read the store.
      }
    }
    const value = await load();
    if (value !== undefined) {
      await this.namespace.put(key, JSON.stringify(value), { expirationTtl: this.#ttl }).catch(() => undefined);
    }
    return value;
  }

  /** The workspace's bot: from KV, or from the store (then kept in KV). */
  async findBot(query: BotQuery): Promise<Bot | undefined> {
    const q = normalizeQuery(query, "findBot");
    return this.#cached(`${this.#workspace(q)}bot`, () => this.inner.findBot(query));
  }

  /** The workspace's (or the user's) latest installation: from KV, or from the store (then kept in KV). */
  async findInstallation(query: InstallationQuery): Promise<Installation | undefined> {
    const q = normalizeQuery(query, "findInstallation");
    const key = `${this.#workspace(q)}${q.userId === undefined ? "latest" : `user:${q.userId}`}`;
    return this.#cached(key, () => this.inner.findInstallation(query));
  }

  /** Deletes every KV entry of the workspace: those this call names, then whatever `list` finds. */
  async #invalidate(q: InstallationQuery): Promise<void> {
    const ws = this.#workspace(q);
    const keys = new Set([`${ws}bot`, `${ws}latest`]);
    if (q.userId !== undefined) keys.add(`${ws}user:${q.userId}`);
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const listed = await this.namespace.list({ prefix: ws, cursor: cursor ?? null }).catch(() => undefined);
      if (listed === undefined) break;
      for (const k of listed.keys) keys.add(k.name);
      if (listed.list_complete || !listed.cursor) break;
      cursor = listed.cursor;
    }
    await Promise.all([...keys].map((k) => this.namespace.delete(k).catch(() => undefined)));
  }

  /** Saves through the store, then drops the workspace's KV entries. */
  async save(installation: Installation): Promise<void> {
    const i = validateInstallation(installation);
    await this.inner.save(installation);
    await this.#invalidate({
      enterpriseId: i.enterpriseId,
      teamId: i.teamId,
      isEnterpriseInstall: i.isEnterpriseInstall,
      userId: i.userId,
    });
  }

  /** Deletes through the store, then drops the workspace's KV entries. */
  async deleteBot(query: WorkspaceQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteBot");
    await this.inner.deleteBot(query);
    await this.#invalidate(q);
  }

  /** Deletes through the store, then drops the workspace's KV entries. */
  async deleteInstallation(query: DeleteInstallationQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteInstallation");
    await this.inner.deleteInstallation(query);
    await this.#invalidate(q);
  }

  /** Deletes through the store, then drops the workspace's KV entries. */
  async deleteAll(query: WorkspaceQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteAll");
    await this.inner.deleteAll(query);
    await this.#invalidate(q);
  }

  /** The store's compare-and-set (never KV); a write drops the workspace's KV entries. */
  async updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    const written = await this.inner.updateTokens(query, patch, expect);
    if (written) await this.#invalidate(normalizeQuery(query, "updateTokens"));
    return written;
  }

  /** The store's lock (never KV). */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.inner.withLock(key, fn, options);
  }

  /** The store's health record (never KV; health is not part of the cached lookups). */
  recordHealth(q: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    return this.inner.recordHealth(q, health, expect);
  }

  /** The store's health listing (never cached). */
  listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    return this.inner.listHealth(filter);
  }

  /** The store's expiry query (never cached: the refresh scheduler's). */
  listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    return this.inner.listExpiringTokens(untilSeconds, limit);
  }

  /** The store's record of an org's workspaces (never KV: `authorize` reads it for org-wide requests). */
  findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    return this.inner.findTeamAccess(enterpriseId);
  }

  /** Records an org's workspaces in the store (nothing of it is in KV). */
  updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    return this.inner.updateTeamAccess(enterpriseId, change);
  }

  /** The store's listing (never cached). */
  listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    return this.inner.listWorkspaces(filter);
  }

  /** Closes the store. */
  close(): Promise<void> {
    return this.inner.close();
  }
}
