/**
 * {@link RedisLockedInstallationStore}: any store whose `withLock` is a {@link RedisLock}.
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
  partitionOf,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "../installation-store.js";
import { requireStore } from "../store-helpers.js";
import { RedisLock } from "./lock.js";

/**
 * An {@link InstallationStore} that delegates everything to `inner` except `withLock`, which uses a
 * {@link RedisLock}. `close()` closes `inner` (not the lock).
 *
 * @example
 * ```ts
 * const store = new RedisLockedInstallationStore(sqlStore, new RedisLock({ url }));
 * ```
 */
export class RedisLockedInstallationStore implements InstallationStore {
  readonly inner: InstallationStore;
  readonly lock: RedisLock;
  /** The wrapped store's encryption marker. */
  readonly encryptionMarker?: EncryptionMarker | undefined;

  constructor(inner: InstallationStore, lock: RedisLock) {
    requireStore(inner, "withRedisLock");
    if (!(lock instanceof RedisLock)) throw new CodedTypeError("withRedisLock: expected a RedisLock");
    this.inner = inner;
    this.lock = lock;
    this.encryptionMarker = inner.encryptionMarker;
  }

  save(installation: Installation): Promise<void> {
    return this.inner.save(installation);
  }
  findBot(q: BotQuery): Promise<Bot | undefined> {
    return this.inner.findBot(q);
  }
  findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    return this.inner.findInstallation(q);
  }
  deleteBot(q: WorkspaceQuery): Promise<void> {
    return this.inner.deleteBot(q);
  }
  deleteInstallation(q: DeleteInstallationQuery): Promise<void> {
    return this.inner.deleteInstallation(q);
  }
  deleteAll(q: WorkspaceQuery): Promise<void> {
    return this.inner.deleteAll(q);
  }
  updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    return this.inner.updateTeamAccess(enterpriseId, change);
  }
  findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    return this.inner.findTeamAccess(enterpriseId);
  }
  listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    return this.inner.listWorkspaces(filter);
  }
  updateTokens(q: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    return this.inner.updateTokens(q, patch, expect);
  }
  recordHealth(q: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    return this.inner.recordHealth(q, health, expect);
  }
  listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    return this.inner.listHealth(filter);
  }
  listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    return this.inner.listExpiringTokens(untilSeconds, limit);
  }
  /** The wrapped store's app partition; its locks are that app's (`lock@<clientId>:<key>` in Redis). */
  get clientId(): string {
    return partitionOf(this.inner);
  }
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.lock.withLock(key, fn, options, partitionOf(this.inner));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Returns `store` with its `withLock` backed by Redis (every other method passes through).
 *
 * @example
 * ```ts
 * const store = withRedisLock(new SQLiteInstallationStore({ filename }), new RedisLock({ url: process.env.REDIS_URL }));
 * ```
 */
export function withRedisLock(store: InstallationStore, lock: RedisLock): RedisLockedInstallationStore {
  return new RedisLockedInstallationStore(store, lock);
}
