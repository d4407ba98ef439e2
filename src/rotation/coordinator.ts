/**
 * {@link RotationCoordinator}: refreshes stored tokens safely when many requests, processes and hosts
 * want the same token refreshed at once.
 */
import { ConfigError, LockTimeoutError } from "../errors.js";
import { type BoundMetrics, bindMetrics, type MetricsOptions } from "../metrics/hooks.js";
import type { Bot, Installation } from "../model/installation.js";
import { type Logger, silentLogger } from "../redact.js";
import { CachingInstallationStore } from "../stores/cache.js";
import {
  type BotQuery,
  DEFAULT_LOCK_LEASE_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type InstallationStore,
  normalizeQuery,
  type TokenExpectation,
  type TokenPatch,
} from "../stores/installation-store.js";
import { requireStore, resolveWorkspace } from "../stores/store-helpers.js";
import { type TokenFamily, type TokenOwner, TokenRefreshError } from "./errors.js";
import { SingleFlight } from "./single-flight.js";
import type { RefreshedToken, TokenRotator } from "./token-rotator.js";

/**
 * What happened to one token:
 * - `refreshed` / `converted`: this call refreshed it (converted a long-lived one) and stored the result;
 * - `refreshed_elsewhere`: another caller or process had refreshed it meanwhile; its tokens are returned;
 * - `not_needed`: it does not expire within the window (or, for conversion, already rotates);
 * - `not_rotating`: a long-lived token (no refresh token): nothing to refresh;
 * - `superseded`: the installation changed while the refresh was in flight (reinstalled): the stored
 *   tokens are returned, ours were not written;
 * - `not_found`: no such bot or installation (any more).
 *
 * @example
 * ```ts
 * const done: RotationStatus[] = ["refreshed", "refreshed_elsewhere", "not_needed"];
 * ```
 */
export type RotationStatus =
  | "refreshed"
  | "converted"
  | "refreshed_elsewhere"
  | "not_needed"
  | "not_rotating"
  | "superseded"
  | "not_found";

/**
 * Result of {@link RotationCoordinator.refreshBot}: the status and the bot as it now stands (absent for
 * `not_found`). Holds tokens: never log it.
 *
 * @example
 * ```ts
 * const { status, bot } = await coordinator.refreshBot({ teamId: "T0123" });
 * ```
 */
export interface BotRotation {
  kind: "bot";
  status: RotationStatus;
  bot?: Bot;
}

/**
 * Result of {@link RotationCoordinator.refreshUser}: the status and that user's installation as it now
 * stands (absent for `not_found`). Holds tokens: never log it.
 *
 * @example
 * ```ts
 * const { installation } = await coordinator.refreshUser({ teamId: "T0123", userId: "U0123" });
 * ```
 */
export interface UserRotation {
  kind: "user";
  status: RotationStatus;
  installation?: Installation;
}

/**
 * Per-call options of {@link RotationCoordinator.refreshBot} / {@link RotationCoordinator.refreshUser}.
 *
 * @example
 * ```ts
 * await coordinator.refreshBot(q, { seenRefreshToken: bot.botRefreshToken, windowSeconds: 3600 });
 * ```
 */
export interface RefreshOptions {
  /**
   * The refresh token the caller saw when it decided to refresh. If the store holds another one by the
   * time the lock is taken, someone else refreshed: their (still valid) token is used and no second
   * refresh happens, even when it too expires within the window.
   */
  seenRefreshToken?: string | undefined;
  /** Override the rotator's window for this call. */
  windowSeconds?: number | undefined;
  /** Refresh even when the token does not expire within the window. */
  force?: boolean | undefined;
}

/**
 * Options of {@link RotationCoordinator}.
 *
 * @example
 * ```ts
 * const options: RotationCoordinatorOptions = { installationStore: store, rotator, lockTimeoutMs: 10_000 };
 * ```
 */
export interface RotationCoordinatorOptions {
  /** Where tokens live. Its `withLock` serialises refreshes across processes, `updateTokens` writes them. */
  installationStore: InstallationStore;
  rotator: TokenRotator;
  /**
   * How long to wait for another process's refresh of the same token.
   *
   * @default 10 s
   */
  lockTimeoutMs?: number | undefined;
  /**
   * Lease of a lock whose holder died. Above the API client's timeout.
   *
   * @default 60 s
   */
  lockLeaseMs?: number | undefined;
  /** Redacted logger (default: silent). */
  logger?: Logger | undefined;
  /** Reports how each refresh ended (once per refresh, however many callers shared it). */
  metrics?: MetricsOptions | undefined;
  /**
   * The clock (epoch ms) that times how long this process has held a lock, against `lockLeaseMs`.
   *
   * @default Date.now
   */
  nowMs?: (() => number) | undefined;
}

/** A workspace key as every store resolves it (org-wide installs: no team). */
interface Workspace {
  enterpriseId: string | undefined;
  teamId: string | undefined;
  isEnterpriseInstall: boolean;
}

type Family = { kind: "bot"; value: Bot } | { kind: "user"; value: Installation };

/** A lock this process holds: its key, and when (by the coordinator's clock) `fn` started holding it. */
interface Held {
  key: string;
  since: number;
}

/**
 * Refreshes (and converts) stored tokens so that each token is refreshed once, however many callers
 * want it at the same moment:
 *
 * 1. **single-flight** per token within the process: concurrent callers share one refresh;
 * 2. the store's **per-token lock** (`withLock`) across processes: SQLite a lease row written in a
 *    `BEGIN IMMEDIATE` transaction, files a lease file created with `link(2)`; a Redis, PostgreSQL or
 *    MySQL store brings its own;
 * 3. **re-read under the lock**, from the store itself (past any cache): if the refresh token changed
 *    since the caller looked, another process refreshed, and its token is used;
 * 4. **compare-and-set write-back** of only the refreshed token's fields (`updateTokens` with the spent
 *    refresh token as the expectation): no other user's token, and nothing else, is ever overwritten.
 *
 * A lease outlives a dead holder only for `lockLeaseMs`; a holder starved of CPU for that long may find
 * its lease taken over. So the refresh call itself (the one step that cannot be taken back) is made only
 * while at least half the lease is left; past that, the holder re-reads the store instead: the token is
 * `refreshed_elsewhere` when another process refreshed it meanwhile, else the call fails with a
 * `LockTimeoutError` and nothing is refreshed. A refresh token is never spent twice by two holders.
 *
 * Tokens are families: a workspace's bot, and each user's user token, refresh independently (and in
 * parallel). Lock keys: `rotation/<enterprise|->/<team|->/bot` and `…/user/<userId>`.
 *
 * @example
 * ```ts
 * const coordinator = new RotationCoordinator({ installationStore: store, rotator: new TokenRotator({ clientId, clientSecret }) });
 * const { status, bot } = await coordinator.refreshBot({ teamId: "T0123" });
 * ```
 */
export class RotationCoordinator {
  readonly installationStore: InstallationStore;
  readonly rotator: TokenRotator;
  readonly lockTimeoutMs: number;
  readonly lockLeaseMs: number;
  readonly #source: InstallationStore;
  readonly #flights = new SingleFlight<BotRotation | UserRotation>();
  readonly #logger: Logger;
  readonly #onRefresh: BoundMetrics["tokenRefresh"];
  readonly #now: () => number;

  constructor(options: RotationCoordinatorOptions) {
    const store = options?.installationStore;
    if (store === null || typeof store !== "object")
      throw new ConfigError("RotationCoordinator: installationStore is required");
    // Once, here: rotation needs the store's lock and compare-and-set, which every store has since 0.2.
    requireStore(store, "RotationCoordinator");
    if (options.rotator === null || typeof options.rotator?.refreshToken !== "function")
      throw new ConfigError("RotationCoordinator: rotator (a TokenRotator) is required");
    this.installationStore = store;
    this.rotator = options.rotator;
    this.lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.lockLeaseMs = options.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS;
    // Re-reads under the lock go past the cache: another process's refresh is only in the store.
    this.#source = store instanceof CachingInstallationStore ? store.inner : store;
    this.#logger = options.logger ?? silentLogger;
    this.#onRefresh = bindMetrics(options.metrics, "RotationCoordinator")?.tokenRefresh;
    this.#now = options.nowMs ?? Date.now;
  }

  /**
   * The lock key of a token family.
   *
   * @example
   * ```ts
   * RotationCoordinator.lockKey("user", { teamId: "T0123" }, "U0123"); // "rotation/-/T0123/user/U0123"
   * ```
   */
  static lockKey(kind: TokenFamily, q: BotQuery, userId?: string): string {
    const w = resolveWorkspace(q);
    const base = `rotation/${w.enterpriseId ?? "-"}/${w.teamId ?? "-"}`;
    return kind === "bot" ? `${base}/bot` : `${base}/user/${userId ?? "-"}`;
  }

  /**
   * Refreshes the workspace's (or org's) bot token if it expires within the window, once across every
   * caller and process; returns the bot as it now stands. Throws `TokenRefreshError` (nothing written),
   * `LockTimeoutError`, `StoreError`.
   *
   * @example
   * ```ts
   * const { bot } = await coordinator.refreshBot({ enterpriseId, teamId, isEnterpriseInstall: false });
   * ```
   */
  async refreshBot(q: BotQuery, options: RefreshOptions = {}): Promise<BotRotation> {
    const ws = this.#workspace(q);
    const key = RotationCoordinator.lockKey("bot", ws);
    return this.#flights.run(`refresh|${key}`, () =>
      this.#counted("bot", () => this.#locked(key, (held) => this.#refresh("bot", ws, undefined, options, held))),
    ) as Promise<BotRotation>;
  }

  /**
   * Refreshes one user's user token if it expires within the window, once across every caller and
   * process; returns that user's installation as it now stands. No other user's token is touched.
   *
   * @example
   * ```ts
   * const { installation } = await coordinator.refreshUser({ teamId: "T0123", userId: "U0123" });
   * ```
   */
  async refreshUser(q: BotQuery & { userId: string }, options: RefreshOptions = {}): Promise<UserRotation> {
    const ws = this.#workspace(q);
    const userId = normalizeQuery({ ...ws, userId: q.userId }, "refreshUser").userId;
    if (userId === undefined) throw new ConfigError("refreshUser: userId is required");
    const key = RotationCoordinator.lockKey("user", ws, userId);
    return this.#flights.run(`refresh|${key}`, () =>
      this.#counted("user", () => this.#locked(key, (held) => this.#refresh("user", ws, userId, options, held))),
    ) as Promise<UserRotation>;
  }

  /**
   * Converts the workspace's long-lived bot token into a rotating one (`oauth.v2.exchange`), under the
   * same lock as refreshes; `not_needed` when it already rotates.
   *
   * @example
   * ```ts
   * const { status } = await coordinator.convertBot({ teamId: "T0123" });
   * ```
   */
  async convertBot(q: BotQuery): Promise<BotRotation> {
    const ws = this.#workspace(q);
    const key = RotationCoordinator.lockKey("bot", ws);
    return this.#flights.run(`convert|${key}`, () =>
      this.#locked(key, (held) => this.#convert("bot", ws, undefined, held)),
    ) as Promise<BotRotation>;
  }

  /**
   * Converts one user's long-lived user token into a rotating one (`oauth.v2.exchange`).
   *
   * @example
   * ```ts
   * const { status } = await coordinator.convertUser({ teamId: "T0123", userId: "U0123" });
   * ```
   */
  async convertUser(q: BotQuery & { userId: string }): Promise<UserRotation> {
    const ws = this.#workspace(q);
    const userId = normalizeQuery({ ...ws, userId: q.userId }, "convertUser").userId;
    if (userId === undefined) throw new ConfigError("convertUser: userId is required");
    const key = RotationCoordinator.lockKey("user", ws, userId);
    return this.#flights.run(`convert|${key}`, () =>
      this.#locked(key, (held) => this.#convert("user", ws, userId, held)),
    ) as Promise<UserRotation>;
  }

  #workspace(q: BotQuery): Workspace {
    const n = normalizeQuery({ ...q }, "rotation");
    const w = resolveWorkspace(n);
    return { enterpriseId: w.enterpriseId, teamId: w.teamId, isEnterpriseInstall: w.teamId === undefined };
  }

  /** One refresh, its outcome reported to the metrics hook when one listens. */
  #counted<T extends BotRotation | UserRotation>(kind: TokenFamily, run: () => Promise<T>): Promise<T> {
    const report = this.#onRefresh;
    if (report === undefined) return run();
    return run().then(
      (r) => {
        report(kind, r.status);
        return r;
      },
      (error: unknown) => {
        const outcome =
          error instanceof TokenRefreshError
            ? error.reason
            : error instanceof LockTimeoutError
              ? "lock_timeout"
              : "error";
        report(kind, outcome);
        throw error;
      },
    );
  }

  #locked<T>(key: string, fn: (held: Held) => Promise<T>): Promise<T> {
    return this.installationStore.withLock(key, () => fn({ key, since: this.#now() }), {
      timeoutMs: this.lockTimeoutMs,
      leaseMs: this.lockLeaseMs,
    });
  }

  /** True while less than half of the lease has gone by since the lock was taken. */
  #leaseHolds(held: Held): boolean {
    return this.#now() - held.since < this.lockLeaseMs / 2;
  }

  /**
   * The lease may have run out (this process was starved, or the store slow) before an irreversible call:
   * the call is not made. What the store holds now decides: a token another holder refreshed meanwhile
   * is used, else `LockTimeoutError` (nothing spent, nothing written).
   */
  async #leaseLapsed(
    kind: TokenFamily,
    ws: Workspace,
    userId: string | undefined,
    held: Held,
    spent: string | undefined,
  ): Promise<BotRotation | UserRotation> {
    // `spent`: the refresh token we were about to use (undefined for a conversion).
    const again = await this.#read(kind, ws, userId);
    const now = again === undefined ? undefined : tokensOf(again);
    if (again !== undefined && now?.refreshToken !== undefined && now.refreshToken !== spent) {
      if (this.rotator.isValid(now.expiresAt)) {
        await this.#invalidate(ws);
        return this.#result(kind, "refreshed_elsewhere", again);
      }
    }
    this.#logger.warn(
      `rotation: held the lock for the ${kind} token of ${describe(ws, userId)} past half its lease; did not refresh`,
    );
    throw new LockTimeoutError(held.key, this.lockLeaseMs, {
      message: `lock ${JSON.stringify(held.key)} held for more than half its ${this.lockLeaseMs} ms lease before the refresh: not refreshed (its lease may have passed to another holder)`,
    });
  }

  async #read(kind: TokenFamily, ws: Workspace, userId: string | undefined): Promise<Family | undefined> {
    if (kind === "bot") {
      const bot = await this.#source.findBot(ws);
      return bot === undefined ? undefined : { kind, value: bot };
    }
    const inst = await this.#source.findInstallation({ ...ws, userId });
    // Only that very user's installation (a custom store might fall back to another one).
    return inst === undefined || inst.userId !== userId || !inst.userToken ? undefined : { kind, value: inst };
  }

  #result(kind: TokenFamily, status: RotationStatus, f: Family | undefined): BotRotation | UserRotation {
    if (kind === "bot") {
      const r: BotRotation = { kind, status };
      if (f?.kind === "bot") r.bot = f.value;
      return r;
    }
    const r: UserRotation = { kind, status };
    if (f?.kind === "user") r.installation = f.value;
    return r;
  }

  async #refresh(
    kind: TokenFamily,
    ws: Workspace,
    userId: string | undefined,
    options: RefreshOptions,
    held: Held,
  ): Promise<BotRotation | UserRotation> {
    const rotator = this.rotator;
    const fresh = await this.#read(kind, ws, userId);
    if (fresh === undefined) return this.#result(kind, "not_found", undefined);
    const { token, refreshToken, expiresAt } = tokensOf(fresh);
    if (refreshToken === undefined || token === undefined) return this.#result(kind, "not_rotating", fresh);
    const changed = options.seenRefreshToken !== undefined && refreshToken !== options.seenRefreshToken;
    if (!options.force) {
      if (changed && rotator.isValid(expiresAt)) {
        await this.#invalidate(ws);
        return this.#result(kind, "refreshed_elsewhere", fresh);
      }
      if (!rotator.expiresWithin(expiresAt, options.windowSeconds)) {
        if (changed) await this.#invalidate(ws);
        return this.#result(kind, "not_needed", fresh);
      }
    }
    const owner: TokenOwner = { enterpriseId: ws.enterpriseId, teamId: ws.teamId, userId };
    // The one step that cannot be undone: only while our lease surely still holds.
    if (!this.#leaseHolds(held)) return this.#leaseLapsed(kind, ws, userId, held, refreshToken);
    let refreshed: RefreshedToken;
    try {
      refreshed = await rotator.refreshToken(kind, refreshToken, owner);
    } catch (error) {
      const reason = (error as { reason?: unknown }).reason;
      if (reason === "invalid_refresh_token") {
        // Someone refreshed without holding our lock (its lease ran out, or a tool that does not lock):
        // their token is in the store now.
        const again = await this.#read(kind, ws, userId);
        const now = again === undefined ? undefined : tokensOf(again);
        if (again !== undefined && now?.refreshToken !== undefined && now.refreshToken !== refreshToken) {
          if (rotator.isValid(now.expiresAt)) {
            await this.#invalidate(ws);
            return this.#result(kind, "refreshed_elsewhere", again);
          }
        }
      }
      throw error;
    }
    const patch = changedOnly(fresh, refreshed.patch);
    // Slack replayed the pair we already hold (a retry within its grace period): nothing to write.
    if (Object.keys(patch).length === 0) return this.#result(kind, "refreshed", fresh);
    const expect: TokenExpectation =
      kind === "bot" ? { botRefreshToken: refreshToken } : { userRefreshToken: refreshToken };
    const written = await this.#write(ws, userId, kind, patch, expect);
    if (!written) return this.#superseded(kind, ws, userId, "refresh");
    this.#logger.info(`rotation: refreshed the ${kind} token of ${describe(ws, userId)}`);
    return this.#result(kind, "refreshed", apply(fresh, patch));
  }

  async #convert(
    kind: TokenFamily,
    ws: Workspace,
    userId: string | undefined,
    held: Held,
  ): Promise<BotRotation | UserRotation> {
    const fresh = await this.#read(kind, ws, userId);
    if (fresh === undefined) return this.#result(kind, "not_found", undefined);
    const { token, refreshToken } = tokensOf(fresh);
    if (token === undefined) return this.#result(kind, "not_found", undefined);
    if (refreshToken !== undefined || token.startsWith("xoxe.")) return this.#result(kind, "not_needed", fresh);
    const owner: TokenOwner = { enterpriseId: ws.enterpriseId, teamId: ws.teamId, userId };
    if (!this.#leaseHolds(held)) return this.#leaseLapsed(kind, ws, userId, held, undefined);
    const converted = await this.rotator.exchange(kind, token, owner);
    const expect: TokenExpectation = kind === "bot" ? { botToken: token } : { userToken: token };
    const patch = changedOnly(fresh, converted.patch);
    if (Object.keys(patch).length === 0) return this.#result(kind, "not_needed", fresh);
    const written = await this.#write(ws, userId, kind, patch, expect);
    if (!written) return this.#superseded(kind, ws, userId, "conversion");
    this.#logger.info(`rotation: converted the ${kind} token of ${describe(ws, userId)} to a rotating token`);
    return this.#result(kind, "converted", apply(fresh, patch));
  }

  async #superseded(
    kind: TokenFamily,
    ws: Workspace,
    userId: string | undefined,
    what: string,
  ): Promise<BotRotation | UserRotation> {
    // The compare-and-set failed although we held the lock: reinstalled, uninstalled, or written by
    // something that does not take the lock. What is stored now wins.
    this.#logger.warn(
      `rotation: the ${kind} token of ${describe(ws, userId)} changed during its ${what}; kept the stored one`,
    );
    await this.#invalidate(ws);
    const again = await this.#read(kind, ws, userId);
    return this.#result(kind, again === undefined ? "not_found" : "superseded", again);
  }

  /** Writes only the patched fields, as a compare-and-set on the spent token. */
  #write(
    ws: Workspace,
    userId: string | undefined,
    kind: TokenFamily,
    patch: TokenPatch,
    expect: TokenExpectation,
  ): Promise<boolean> {
    return this.installationStore.updateTokens(kind === "user" ? { ...ws, userId } : { ...ws }, patch, expect);
  }

  async #invalidate(ws: Workspace): Promise<void> {
    const store = this.installationStore;
    if (store instanceof CachingInstallationStore) {
      await store.invalidate(ws.teamId === undefined ? { enterpriseId: ws.enterpriseId } : ws);
    }
  }
}

function tokensOf(f: Family): { token?: string; refreshToken?: string; expiresAt?: number } {
  const out: { token?: string; refreshToken?: string; expiresAt?: number } = {};
  const v = f.value as Partial<Installation>;
  const [token, refresh, exp] =
    f.kind === "bot"
      ? [v.botToken, v.botRefreshToken, v.botTokenExpiresAt]
      : [v.userToken, v.userRefreshToken, v.userTokenExpiresAt];
  if (token !== undefined) out.token = token;
  if (refresh !== undefined) out.refreshToken = refresh;
  if (exp !== undefined) out.expiresAt = exp;
  return out;
}

/** The patch without fields equal to what is stored (scopes usually are). */
function changedOnly(f: Family, patch: TokenPatch): TokenPatch {
  const current = f.value as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    const was = current[k];
    const same = Array.isArray(v) && Array.isArray(was) ? v.join(",") === was.join(",") : v === was;
    if (!same) out[k] = v;
  }
  return out as TokenPatch;
}

function apply(f: Family, patch: TokenPatch): Family {
  return f.kind === "bot"
    ? { kind: "bot", value: { ...f.value, ...(patch as Partial<Bot>) } }
    : { kind: "user", value: { ...f.value, ...(patch as Partial<Installation>) } };
}

function describe(ws: Workspace, userId: string | undefined): string {
  const where = ws.teamId ?? `org ${ws.enterpriseId}`;
  return userId === undefined ? where : `${userId} in ${where}`;
}
