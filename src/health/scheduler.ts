/**
 * {@link RefreshScheduler}: refreshes rotating tokens before they expire, whether or not requests arrive.
 */
import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError, ConfigError, isCodedError, LockTimeoutError } from "../errors.js";
import type { MetricsOptions } from "../metrics/hooks.js";
import { type Logger, redact, silentLogger } from "../redact.js";
import { RotationCoordinator, type RotationStatus } from "../rotation/coordinator.js";
import { TokenRefreshError } from "../rotation/errors.js";
import { DEFAULT_ROTATION_WINDOW_SECONDS, TokenRotator } from "../rotation/token-rotator.js";
import { CachingInstallationStore } from "../stores/cache.js";
import type { ExpiringToken } from "../stores/health.js";
import { type InstallationStore, partitionOf, type TokenExpectation } from "../stores/installation-store.js";
import { requireStore } from "../stores/store-helpers.js";
import { type PoolJob, runPool, timerSleep } from "./pool.js";

/**
 * Options of {@link RefreshScheduler}. Give a `coordinator`, or a `rotator`, or the client credentials
 * (`clientId`, `clientSecret`, `apiUrl`).
 *
 * @example
 * ```ts
 * const options: RefreshSchedulerOptions = { installationStore: store, clientId, clientSecret, intervalMs: 300_000 };
 * ```
 */
export interface RefreshSchedulerOptions {
  /** The store of one app: its expiry index is read, its tokens refreshed. */
  installationStore: InstallationStore;
  /** Refreshes through it (its lock and compare-and-set make one refresh per token across processes). */
  coordinator?: RotationCoordinator | undefined;
  /** Builds a coordinator over the store when no `coordinator` is given. */
  rotator?: TokenRotator | undefined;
  /** With `clientSecret` (and `apiUrl`): builds a rotator when neither `coordinator` nor `rotator` is given. */
  clientId?: string | undefined;
  /** See `clientId`. */
  clientSecret?: string | undefined;
  /**
   * Web API base URL of the rotator built from `clientId` / `clientSecret`.
   *
   * @default `https://slack.com/api/`
   */
  apiUrl?: string | undefined;
  /**
   * Time between passes, ms.
   *
   * @default 300000, i.e. 5 min
   */
  intervalMs?: number | undefined;
  /**
   * Spread of each wait, as a fraction of `intervalMs`: a wait is `intervalMs × (1 ± jitter)`, so that
   * the processes of a deployment started together do not query the store in step.
   *
   * @default 0.1
   */
  jitter?: number | undefined;
  /**
   * Refresh tokens that expire within this many seconds (Slack's SDKs use two hours).
   *
   * @default 7200
   */
  refreshBeforeSeconds?: number | undefined;
  /**
   * Most tokens taken from the expiry index per pass (the rest wait for the next pass).
   *
   * @default 1000
   */
  batchSize?: number | undefined;
  /**
   * Refreshes at once.
   *
   * @default 4
   */
  concurrency?: number | undefined;
  /**
   * Tries per token and pass, with exponential backoff in between, when the failure may pass (network,
   * timeout, `ratelimited`, 5xx, a lock held elsewhere); a permanent one (`invalid_refresh_token`, …) is not
   * retried.
   *
   * @default 3
   */
  maxAttempts?: number | undefined;
  /**
   * First backoff delay, ms; doubled each time, with jitter.
   *
   * @default 1000
   */
  retryBaseMs?: number | undefined;
  /**
   * Run a pass as soon as {@link RefreshScheduler.start} is called (otherwise after the first interval).
   *
   * @default true
   */
  runOnStart?: boolean | undefined;
  /**
   * Clock in epoch ms.
   *
   * @default `Date.now`
   */
  nowMs?: (() => number) | undefined;
  /**
   * Waits `ms` between retries (resolving early when `signal` aborts). Tests pass one that moves a clock.
   *
   * @default a timer
   */
  sleepMs?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /**
   * Random numbers in [0, 1) for the jitter.
   *
   * @default `Math.random`
   */
  random?: (() => number) | undefined;
  /** Called for each token a pass handled that did not fail (`refreshed`, `refreshed_elsewhere`, `not_needed`, …). */
  onRefresh?: ((item: ScheduledRefresh) => void) | undefined;
  /** Called for each token whose refresh failed after its tries (also recorded as `refresh_failed` in health). */
  onFailure?: ((item: ScheduledRefresh) => void) | undefined;
  /** Called after each pass with its report (also after a pass that failed, with `error` set). */
  onPass?: ((report: RefreshPassReport) => void) | undefined;
  /** Reports each refresh (`MetricsHooks.tokenRefresh`) through the coordinator this scheduler builds. */
  metrics?: MetricsOptions | undefined;
  /** Redacted logger (default: silent). */
  logger?: Logger | undefined;
}

/**
 * One token a pass handled (ids, times and codes only: never a token).
 *
 * @example
 * ```ts
 * const item: ScheduledRefresh = { kind: "bot", teamId: "T0123", isEnterpriseInstall: false, expiresAt: 1767225600, status: "refreshed", attempts: 1 };
 * ```
 */
export interface ScheduledRefresh extends ExpiringToken {
  /** What happened; `failed` after the last try. */
  status: RotationStatus | "failed";
  /** Tries made in this pass. */
  attempts: number;
  /** Why it failed (no secrets): the error's code, the refresh failure's reason and Slack's code. */
  error?: { code: string; reason?: string; slackError?: string; retryable: boolean };
}

/**
 * What one pass did.
 *
 * @example
 * ```ts
 * const report: RefreshPassReport = await scheduler.runOnce();
 * console.log(report.due, "due,", report.failed, "failed");
 * ```
 */
export interface RefreshPassReport {
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms. */
  finishedAt: number;
  /** Tokens the expiry index listed as due. */
  due: number;
  /** Tokens this process refreshed. */
  refreshed: number;
  /** Tokens whose refresh failed after every try. */
  failed: number;
  items: ScheduledRefresh[];
  /** Set when the pass itself failed (the store could not list due tokens): nothing was refreshed. */
  error?: { code: string; message: string };
}

function nonNegative(v: unknown, name: string, fallback: number, finite = true): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !(v >= 0) || (finite && !Number.isFinite(v)))
    throw new CodedTypeError(`RefreshScheduler: ${name} must be a non-negative number`);
  return v;
}

function positiveInt(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
    throw new CodedTypeError(`RefreshScheduler: ${name} must be a positive integer`);
  return v;
}

/**
 * Refreshes the rotating tokens of one app's store before they expire, without waiting for a request:
 * every `intervalMs` (± `jitter`), it asks the store's expiry index for the tokens that expire within
 * `refreshBeforeSeconds` (never a scan of every installation) and refreshes each through
 * {@link RotationCoordinator}: the store's lock across processes, a re-read under it and a
 * compare-and-set write, so however many processes run a scheduler each token is refreshed once (the
 * others see `refreshed_elsewhere` or `not_needed`). Failures that may pass are retried with backoff; a
 * token that still fails is recorded as `refresh_failed` in its health and reported to `onFailure`. A pass
 * never throws: a store failure is reported to `onPass` (`error`) and the next pass tries again.
 *
 * @example
 * ```ts
 * import { RefreshScheduler } from "slack-oauth-kit/health";
 * const scheduler = new RefreshScheduler({ installationStore: store, clientId, clientSecret });
 * scheduler.start();
 * // on shutdown:
 * await scheduler.stop();
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export class RefreshScheduler {
  readonly installationStore: InstallationStore;
  readonly coordinator: RotationCoordinator;
  readonly intervalMs: number;
  readonly jitter: number;
  readonly refreshBeforeSeconds: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly #source: InstallationStore;
  readonly #options: RefreshSchedulerOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<RefreshPassReport> | undefined;
  #started = false;
  #stop = new AbortController();
  /** Bumped by every start and stop: a timer chain of an earlier start never schedules again. */
  #generation = 0;

  constructor(options: RefreshSchedulerOptions) {
    if (options === null || typeof options !== "object")
      throw new CodedTypeError("RefreshScheduler: options { installationStore } are required");
    rejectRenamedClock(options, "RefreshScheduler", { now: "nowMs" });
    const store = options.installationStore;
    if (store === null || typeof store !== "object")
      throw new ConfigError("RefreshScheduler: installationStore is required");
    requireStore(store, "RefreshScheduler");
    this.installationStore = store;
    this.#source = store instanceof CachingInstallationStore ? store.inner : store;
    this.intervalMs = nonNegative(options.intervalMs, "intervalMs", 300_000);
    if (this.intervalMs < 1) throw new CodedTypeError("RefreshScheduler: intervalMs must be at least 1 ms");
    this.jitter = nonNegative(options.jitter, "jitter", 0.1);
    if (this.jitter >= 1)
      throw new CodedTypeError("RefreshScheduler: jitter must be below 1 (a fraction of intervalMs)");
    this.refreshBeforeSeconds = nonNegative(
      options.refreshBeforeSeconds,
      "refreshBeforeSeconds",
      DEFAULT_ROTATION_WINDOW_SECONDS,
    );
    this.batchSize = positiveInt(options.batchSize, "batchSize", 1000);
    this.concurrency = positiveInt(options.concurrency, "concurrency", 4);
    this.maxAttempts = positiveInt(options.maxAttempts, "maxAttempts", 3);
    this.retryBaseMs = nonNegative(options.retryBaseMs, "retryBaseMs", 1000);
    this.#options = options;
    this.#now = options.nowMs ?? Date.now;
    this.#sleep = options.sleepMs ?? timerSleep;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
    this.coordinator = options.coordinator ?? this.#buildCoordinator(options);
    if (
      this.coordinator.installationStore !== store &&
      partitionOf(this.coordinator.installationStore) !== partitionOf(store)
    )
      throw new ConfigError("RefreshScheduler: the coordinator's store belongs to another app (client id)");
  }

  #buildCoordinator(options: RefreshSchedulerOptions): RotationCoordinator {
    let rotator = options.rotator;
    if (rotator === undefined) {
      if (options.clientId === undefined || options.clientSecret === undefined)
        throw new ConfigError("RefreshScheduler: give a coordinator, a rotator, or clientId and clientSecret");
      rotator = new TokenRotator({
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        apiUrl: options.apiUrl,
        nowMs: options.nowMs,
        logger: options.logger,
      });
    }
    const app = partitionOf(options.installationStore);
    if (app !== "" && rotator.clientId !== app)
      throw new ConfigError("RefreshScheduler: the rotator's client id is not the store's app (client id)");
    return new RotationCoordinator({
      installationStore: options.installationStore,
      rotator,
      logger: options.logger,
      metrics: options.metrics,
    });
  }

  /** True between {@link start} and {@link stop}. */
  get started(): boolean {
    return this.#started;
  }

  /**
   * Starts the passes: one now (unless `runOnStart: false`), then one every `intervalMs` (± `jitter`) after
   * the previous one ended. The timer does not keep the process alive. Calling it again does nothing.
   * Safe with a {@link stop} not awaited: if the stopped pass is still running, the first pass of this start
   * waits for it to end, then runs afresh; at most one timer is ever pending.
   *
   * @example
   * ```ts
   * scheduler.start();
   * ```
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#stop = new AbortController();
    const generation = ++this.#generation;
    if (this.#options.runOnStart === false) this.#schedule(generation);
    else if (this.#running === undefined) this.#tick(generation);
    // A pass still running (a stop not awaited, or a runOnce): wait for it, then this start's own pass.
    else {
      const tick = () => this.#tick(generation);
      void this.#running.then(tick, tick);
    }
  }

  /**
   * Stops the passes: no new one starts, waits between retries end, and the pass in progress (if any) is
   * awaited (its refreshes in flight finish and are written). Resolves once nothing runs.
   *
   * @example
   * ```ts
   * process.on("SIGTERM", () => void scheduler.stop());
   * ```
   */
  async stop(): Promise<void> {
    this.#started = false;
    this.#generation++;
    this.#stop.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** The next wait: `intervalMs × (1 ± jitter)`. */
  nextDelayMs(): number {
    const spread = this.intervalMs * this.jitter;
    return Math.max(1, Math.round(this.intervalMs - spread + 2 * spread * this.#random()));
  }

  #schedule(generation: number): void {
    if (!this.#started || generation !== this.#generation) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(generation), this.nextDelayMs());
    this.#timer.unref?.();
  }

  #tick(generation: number): void {
    if (!this.#started || generation !== this.#generation) return;
    this.#timer = undefined;
    void this.runOnce().finally(() => this.#schedule(generation));
  }

  /**
   * One pass now (or the pass already in progress): lists the due tokens through the expiry index,
   * refreshes them `concurrency` at a time, and reports. Never rejects.
   *
   * @example
   * ```ts
   * const { refreshed, failed } = await scheduler.runOnce(); // e.g. from a cron job
   * ```
   */
  runOnce(): Promise<RefreshPassReport> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<RefreshPassReport> {
    const startedAt = this.#now();
    const report: RefreshPassReport = { startedAt, finishedAt: startedAt, due: 0, refreshed: 0, failed: 0, items: [] };
    try {
      const due = await this.installationStore.listExpiringTokens(
        startedAt / 1000 + this.refreshBeforeSeconds,
        this.batchSize,
      );
      report.due = due.length;
      const signal = this.#stop.signal;
      const jobs: PoolJob[] = due.map((token) => ({
        key: `${token.enterpriseId ?? "-"}/${token.teamId ?? "-"}`,
        run: async () => {
          const item = await this.#refreshOne(token, signal);
          report.items.push(item);
          if (item.status === "failed") {
            report.failed++;
            safely(() => this.#options.onFailure?.(item));
          } else {
            if (item.status === "refreshed") report.refreshed++;
            safely(() => this.#options.onRefresh?.(item));
          }
          return { done: true };
        },
      }));
      await runPool(jobs, {
        concurrency: this.concurrency,
        perWorkspace: this.concurrency,
        nowMs: this.#now,
        sleepMs: this.#sleep,
      });
    } catch (e) {
      report.error = {
        code: isCodedError(e) ? e.code : "SLACK_OAUTH_STORE_ERROR",
        message: redact(e instanceof Error ? e.message : String(e)),
      };
      this.#logger.warn(`refresh scheduler: the pass failed: ${report.error.message}`);
    }
    report.finishedAt = this.#now();
    if (report.failed > 0)
      this.#logger.warn(`refresh scheduler: ${report.failed} of ${report.due} due token(s) could not be refreshed`);
    safely(() => this.#options.onPass?.(report));
    return report;
  }

  /** One due token: read it, refresh it through the coordinator (with retries), record a final failure. */
  async #refreshOne(token: ExpiringToken, signal: AbortSignal): Promise<ScheduledRefresh> {
    const item: ScheduledRefresh = { ...token, status: "failed", attempts: 0 };
    const ws = {
      ...(token.enterpriseId !== undefined ? { enterpriseId: token.enterpriseId } : {}),
      ...(token.teamId !== undefined ? { teamId: token.teamId } : {}),
      isEnterpriseInstall: token.isEnterpriseInstall,
    };
    let seen: string | undefined;
    for (;;) {
      item.attempts++;
      try {
        if (seen === undefined) seen = await this.#refreshTokenOf(token, ws);
        const options = { seenRefreshToken: seen, windowSeconds: this.refreshBeforeSeconds };
        const r =
          token.kind === "bot"
            ? await this.coordinator.refreshBot(ws, options)
            : await this.coordinator.refreshUser({ ...ws, userId: token.userId as string }, options);
        item.status = r.status;
        delete item.error;
        if (r.status === "refreshed") {
          const fresh =
            token.kind === "bot" ? r.kind === "bot" && r.bot?.botToken : r.kind === "user" && r.installation?.userToken;
          // Slack just issued this token: its health is ok (this also clears an earlier refresh_failed).
          if (typeof fresh === "string") {
            const expect: TokenExpectation = token.kind === "bot" ? { botToken: fresh } : { userToken: fresh };
            await this.installationStore
              .recordHealth(
                token.kind === "bot" ? ws : { ...ws, userId: token.userId },
                { status: "ok", checkedAt: this.#now() / 1000 },
                expect,
              )
              .catch(() => false);
          }
        }
        return item;
      } catch (e) {
        item.error = describeError(e);
        if (!item.error.retryable || item.attempts >= this.maxAttempts || signal.aborted) break;
        const exp = this.retryBaseMs * 2 ** (item.attempts - 1);
        await this.#sleep(Math.round(exp / 2 + (exp / 2) * this.#random()), signal);
        if (signal.aborted) break;
      }
    }
    item.status = "failed";
    const error = item.error?.slackError ?? item.error?.reason ?? item.error?.code ?? "error";
    const q = token.kind === "bot" ? ws : { ...ws, userId: token.userId };
    const expect: TokenExpectation | undefined =
      seen === undefined ? undefined : token.kind === "bot" ? { botRefreshToken: seen } : { userRefreshToken: seen };
    await this.installationStore
      .recordHealth(q, { status: "refresh_failed", checkedAt: this.#now() / 1000, error: error.slice(0, 128) }, expect)
      .catch((e: unknown) => {
        this.#logger.warn(
          redact(`refresh scheduler: cannot record refresh_failed: ${isCodedError(e) ? e.code : "error"}`),
        );
        return false;
      });
    this.#logger.warn(
      `refresh scheduler: the ${token.kind} token of ${token.teamId ?? `org ${token.enterpriseId ?? "-"}`} failed to refresh (${error})`,
    );
    return item;
  }

  /** The refresh token the store holds now (the coordinator re-reads under its lock and compares with it). */
  async #refreshTokenOf(
    token: ExpiringToken,
    ws: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean },
  ) {
    if (token.kind === "bot") return (await this.#source.findBot(ws))?.botRefreshToken;
    const inst = await this.#source.findInstallation({ ...ws, userId: token.userId });
    return inst !== undefined && inst.userId === token.userId ? inst.userRefreshToken : undefined;
  }
}

function describeError(error: unknown): NonNullable<ScheduledRefresh["error"]> {
  if (error instanceof TokenRefreshError) {
    const out: NonNullable<ScheduledRefresh["error"]> = {
      code: error.code,
      reason: error.reason,
      retryable: error.retryable,
    };
    if (error.slackError !== undefined) out.slackError = error.slackError;
    return out;
  }
  if (error instanceof LockTimeoutError) return { code: error.code, reason: "lock_timeout", retryable: true };
  // A store failure may pass too (a restarted database): retried like a network error.
  return { code: isCodedError(error) ? error.code : "SLACK_OAUTH_STORE_ERROR", retryable: true };
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // a failing hook must not stop the scheduler
  }
}
