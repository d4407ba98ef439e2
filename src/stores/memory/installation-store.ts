import { type Bot, type Installation, toBot } from "../../model/installation.js";
import {
  checkExpiringQuery,
  checkHealthWrite,
  compareHealth,
  type ExpiringToken,
  type HealthEntry,
  healthIsNewer,
  place,
  type TokenHealth,
} from "../health.js";
import {
  type BotQuery,
  checkEnterpriseId,
  checkLock,
  checkPartition,
  checkTeamAccessChange,
  checkTokenUpdate,
  compareWorkspaces,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  type LockOptions,
  normalizeQuery,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "../installation-store.js";
import { KeyedMutex } from "../locks.js";
import {
  checkListFilter,
  completeWorkspace,
  ExpiryIndex,
  expectationsHold,
  expiringOf,
  latestRecord,
  tokenParts,
  workspaceHead,
} from "../records.js";
import { checkQuery, cloneJson, overlayLatestBot, prepareInstallation } from "../store-helpers.js";

/**
 * Options of {@link MemoryInstallationStore}.
 *
 * @example
 * ```ts
 * const store = new MemoryInstallationStore({ historicalData: true });
 * ```
 */
export interface MemoryInstallationStoreOptions {
  /**
   * Keep every saved installation and bot (default `false`: only the latest per user and the latest bot
   * per workspace). Lookups never read the history; {@link MemoryInstallationStore.listHistory} does.
   */
  historicalData?: boolean;
  /**
   * The app partition (a Slack client id; default: the default partition). Stores of several apps in one
   * process come from {@link MemoryInstallationStore.forApp}, each with its own data and locks.
   */
  clientId?: string | undefined;
}

/** A saved installation with its save sequence number (the order that defines "latest"). */
interface Row {
  seq: number;
  inst: Installation;
  /** The health of this installation's user token (`recordHealth` with a `userId`). */
  health?: TokenHealth | undefined;
}

/** Everything kept for one workspace (or one org for org-wide installs). */
interface Workspace {
  /** Latest bot, or undefined after `deleteBot` / when no install had a bot. */
  bot: StoredBot | undefined;
  /** Latest installation of the workspace, any user. */
  latest: Row | undefined;
  /** Latest installation per user id. */
  users: Map<string, Row>;
  /** With `historicalData`: every installation saved, oldest first. */
  installationHistory: Row[] | undefined;
  /** With `historicalData`: every bot saved, oldest first. */
  botHistory: StoredBot[] | undefined;
}

// Map keys for "no enterprise" and "org-wide (no team)": empty / control strings, never a valid id.
const NO_ENTERPRISE = "";
const ORG = "\u0001";

/**
 * Workspaces by enterprise, then by team (org-wide installs under {@link ORG}). Two lookups of the
 * caller's own id strings are cheaper than building and hashing a composite key on every request.
 */
type Index = Map<string, Map<string, Workspace>>;

/** The expiry index key of a workspace's bot (`userId` undefined) or of one user's token. */
function expiryKey(e: string, t: string, userId: string | undefined): string {
  return userId === undefined ? `${e}\u0000${t}\u0000b` : `${e}\u0000${t}\u0000u${userId}`;
}

/** The [enterprise, team] keys of a validated query (see `resolveWorkspace`), inlined: this is the hot path. */
function enterpriseKey(q: InstallationQuery): string {
  return q.enterpriseId || NO_ENTERPRISE;
}
function teamKey(q: InstallationQuery): string {
  return q.isEnterpriseInstall === true || !q.teamId ? ORG : q.teamId;
}

/**
 * A stored bot: a class with every field assigned in the constructor, so all of them live inside the
 * object (one contiguous allocation). At 100k workspaces `findBot` is bound by cache misses, and this
 * layout plus the field-by-field copy below beats spreading a plain object by ~1.5x.
 */
class StoredBot {
  readonly appId: string | undefined;
  readonly enterpriseId: string | undefined;
  readonly enterpriseName: string | undefined;
  readonly enterpriseUrl: string | undefined;
  readonly teamId: string | undefined;
  readonly teamName: string | undefined;
  readonly botToken: string;
  readonly botId: string | undefined;
  readonly botUserId: string | undefined;
  readonly botScopes: string[];
  readonly botRefreshToken: string | undefined;
  readonly botTokenExpiresAt: number | undefined;
  readonly isEnterpriseInstall: boolean;
  readonly installedAt: number;
  readonly customValues: Record<string, unknown>;
  /** `customValues` is `{}` (the usual case): the copy then skips reading it. */
  readonly noCustomValues: boolean;
  /** The bot token's health (`recordHealth`); carried over by token updates, not by a new save. */
  health: TokenHealth | undefined;
  constructor(b: Bot, health?: TokenHealth) {
    this.appId = b.appId;
    this.enterpriseId = b.enterpriseId;
    this.enterpriseName = b.enterpriseName;
    this.enterpriseUrl = b.enterpriseUrl;
    this.teamId = b.teamId;
    this.teamName = b.teamName;
    this.botToken = b.botToken;
    this.botId = b.botId;
    this.botUserId = b.botUserId;
    this.botScopes = b.botScopes.slice();
    this.botRefreshToken = b.botRefreshToken;
    this.botTokenExpiresAt = b.botTokenExpiresAt;
    this.isEnterpriseInstall = b.isEnterpriseInstall;
    this.installedAt = b.installedAt;
    this.customValues = b.customValues;
    this.noCustomValues = Object.keys(b.customValues).length === 0;
    this.health = health;
  }
}

/** A fresh plain {@link Bot} with only the fields that are set (like every other backend returns). */
function copyBot(b: StoredBot): Bot {
  const out: Bot = {
    botToken: b.botToken,
    botScopes: b.botScopes.slice(),
    isEnterpriseInstall: b.isEnterpriseInstall,
    installedAt: b.installedAt,
    customValues: b.noCustomValues ? {} : cloneJson(b.customValues),
  };
  if (b.appId !== undefined) out.appId = b.appId;
  if (b.enterpriseId !== undefined) out.enterpriseId = b.enterpriseId;
  if (b.enterpriseName !== undefined) out.enterpriseName = b.enterpriseName;
  if (b.enterpriseUrl !== undefined) out.enterpriseUrl = b.enterpriseUrl;
  if (b.teamId !== undefined) out.teamId = b.teamId;
  if (b.teamName !== undefined) out.teamName = b.teamName;
  if (b.botId !== undefined) out.botId = b.botId;
  if (b.botUserId !== undefined) out.botUserId = b.botUserId;
  if (b.botRefreshToken !== undefined) out.botRefreshToken = b.botRefreshToken;
  if (b.botTokenExpiresAt !== undefined) out.botTokenExpiresAt = b.botTokenExpiresAt;
  return out;
}
function copyInstallation(i: Installation): Installation {
  return {
    ...i,
    botScopes: i.botScopes.slice(),
    userScopes: i.userScopes.slice(),
    customValues: cloneJson(i.customValues),
  };
}

/**
 * An {@link InstallationStore} in process memory: `Map`s keyed by workspace, O(1) lookups, copies out.
 *
 * "Latest" is the order of `save` calls (a monotonic sequence), not `installedAt`: a refreshed token is
 * saved with its original `installedAt` and must still win.
 *
 * @example
 * ```ts
 * import { MemoryInstallationStore } from "slack-oauth-kit/stores/memory";
 * const store = new MemoryInstallationStore();
 * await store.save(installation);
 * const bot = await store.findBot({ enterpriseId: installation.enterpriseId, teamId: installation.teamId });
 * ```
 */
export class MemoryInstallationStore implements InstallationStore {
  readonly #index: Index = new Map();
  /**
   * The latest bot per workspace again, by enterprise then team: `findBot` (the request hot path) reaches
   * the bot without going through the Workspace record, one cache miss fewer at 100k workspaces.
   * Always equal to `workspace.bot`; written only by {@link MemoryInstallationStore.#setBot}.
   */
  readonly #bots = new Map<string, Map<string, StoredBot>>();
  readonly #history: boolean;
  readonly #locks = new KeyedMutex();
  /** The rotating tokens of the latest bots and users' installations, by expiry. */
  readonly #expiry = new ExpiryIndex();
  /** Org-wide installs: enterprise id → team id → recorded access. */
  readonly #teamAccess = new Map<string, Map<string, "granted" | "revoked">>();
  #seq = 0;
  /** The app partition of this store (`''`: the default partition). */
  readonly clientId: string;
  /** Every app partition of this process's memory, shared by the stores {@link forApp} returns. */
  #apps: Map<string, MemoryInstallationStore>;

  constructor(options: MemoryInstallationStoreOptions = {}) {
    this.#history = options.historicalData === true;
    this.clientId = checkPartition(options.clientId, "MemoryInstallationStore");
    this.#apps = new Map([[this.clientId, this]]);
  }

  /** True when the store keeps every saved installation (the `historicalData` option), not only the latest. */
  get historicalData(): boolean {
    return this.#history;
  }

  /**
   * The store of another app (client id; `''` for the default partition) in the same memory: its own
   * installations, bots, history and locks, nothing shared with this one but the registry. The same
   * client id always gives the same store.
   *
   * @example
   * ```ts
   * const root = new MemoryInstallationStore();
   * const appA = root.forApp("111.222"), appB = root.forApp("333.444");
   * ```
   */
  forApp(clientId: string): MemoryInstallationStore {
    const c = checkPartition(clientId, "MemoryInstallationStore.forApp");
    let store = this.#apps.get(c);
    if (store === undefined) {
      store = new MemoryInstallationStore({ historicalData: this.#history, clientId: c });
      store.#apps = this.#apps;
      this.#apps.set(c, store);
    }
    return store;
  }

  /**
   * Saves an installation: it becomes the workspace's latest, its user's latest, and (when it has a
   * bot token) the workspace's latest bot. Throws `InvalidArgumentError` for bad input; nothing is written.
   *
   * @example
   * ```ts
   * await store.save(installation);
   * ```
   */
  async save(installation: Installation): Promise<void> {
    const inst = prepareInstallation(installation);
    const e = inst.enterpriseId || NO_ENTERPRISE;
    const t = inst.isEnterpriseInstall || !inst.teamId ? ORG : inst.teamId;
    let teams = this.#index.get(e);
    if (teams === undefined) {
      teams = new Map();
      this.#index.set(e, teams);
    }
    let ws = teams.get(t);
    if (ws === undefined) {
      ws = {
        bot: undefined,
        latest: undefined,
        users: new Map(),
        installationHistory: this.#history ? [] : undefined,
        botHistory: this.#history ? [] : undefined,
      };
      teams.set(t, ws);
    }
    const row: Row = { seq: ++this.#seq, inst };
    this.#setUser(e, t, ws, inst.userId, row);
    ws.latest = row;
    ws.installationHistory?.push(row);
    const plain = toBot(inst);
    if (plain !== undefined) {
      const bot = new StoredBot(plain);
      this.#setBot(e, t, ws, bot);
      ws.botHistory?.push(bot);
    }
  }

  /**
   * Returns a copy of the workspace's (or org's) latest bot, or `undefined`.
   *
   * @example
   * ```ts
   * const bot = await store.findBot({ enterpriseId: "E123", teamId: "T123", isEnterpriseInstall: false });
   * ```
   */
  async findBot(query: BotQuery): Promise<Bot | undefined> {
    const q = checkQuery(query, "findBot");
    const bot = this.#bots.get(enterpriseKey(q))?.get(teamKey(q));
    return bot === undefined ? undefined : copyBot(bot);
  }

  /**
   * Returns a copy of the latest installation (with `userId`, that user's latest), its bot fields taken
   * from the workspace's latest bot; `undefined` when there is none.
   *
   * @example
   * ```ts
   * const inst = await store.findInstallation({ teamId: "T123", userId: "U123" });
   * ```
   */
  async findInstallation(query: InstallationQuery): Promise<Installation | undefined> {
    const q = checkQuery(query, "findInstallation");
    const ws = this.#index.get(enterpriseKey(q))?.get(teamKey(q));
    if (ws === undefined) return undefined;
    const row = q.userId === undefined ? ws.latest : ws.users.get(q.userId);
    return row === undefined ? undefined : overlayLatestBot(copyInstallation(row.inst), ws.bot);
  }

  /**
   * Deletes the workspace's bot (all of its bots, history included). Installations stay.
   *
   * @example
   * ```ts
   * await store.deleteBot({ teamId: "T123" }); // on tokens_revoked for the bot
   * ```
   */
  async deleteBot(query: WorkspaceQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteBot");
    const ws = this.#workspace(q);
    if (ws === undefined) return;
    this.#setBot(enterpriseKey(q), teamKey(q), ws, undefined);
    if (ws.botHistory) ws.botHistory = [];
    this.#dropIfEmpty(q, ws);
  }

  /**
   * Deletes installations, as slack_sdk does: with `userId`, every installation of that user (history
   * included), and the workspace's latest becomes the latest remaining one; without `userId`, every
   * installation of the workspace. The bot is kept either way (use {@link deleteBot} or {@link deleteAll}).
   *
   * @example
   * ```ts
   * await store.deleteInstallation({ teamId: "T123", userId: "U123" }); // on tokens_revoked for a user
   * ```
   */
  async deleteInstallation(query: DeleteInstallationQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteInstallation");
    const ws = this.#workspace(q);
    if (ws === undefined) return;
    const userId = q.userId;
    if (userId === undefined) {
      for (const u of ws.users.keys()) this.#expiry.delete(expiryKey(enterpriseKey(q), teamKey(q), u));
      ws.users.clear();
      ws.latest = undefined;
      if (ws.installationHistory) ws.installationHistory = [];
    } else {
      this.#setUser(enterpriseKey(q), teamKey(q), ws, userId, undefined);
      if (ws.latest?.inst.userId === userId) ws.latest = latestRecord(ws.users.values());
      if (ws.installationHistory)
        ws.installationHistory = ws.installationHistory.filter((r) => r.inst.userId !== userId);
    }
    this.#dropIfEmpty(q, ws);
  }

  /**
   * Deletes everything of a workspace (or org, with `enterpriseId` and no `teamId`): installations and bots.
   *
   * @example
   * ```ts
   * await store.deleteAll({ enterpriseId: "E123", teamId: "T123" }); // on app_uninstalled
   * ```
   */
  async deleteAll(query: WorkspaceQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteAll");
    if (q.enterpriseId !== undefined && teamKey(q) === ORG) this.#teamAccess.delete(q.enterpriseId);
    const ws = this.#workspace(q);
    if (ws === undefined) return;
    this.#setBot(enterpriseKey(q), teamKey(q), ws, undefined);
    for (const u of ws.users.keys()) this.#expiry.delete(expiryKey(enterpriseKey(q), teamKey(q), u));
    ws.users.clear();
    ws.latest = undefined;
    ws.installationHistory = ws.installationHistory && [];
    ws.botHistory = ws.botHistory && [];
    this.#dropIfEmpty(q, ws);
  }

  /**
   * Records workspaces of an org-wide install as granted or revoked (see
   * {@link InstallationStore.updateTeamAccess}).
   *
   * @example
   * ```ts
   * await store.updateTeamAccess("E123", { revoked: ["T123"] });
   * ```
   */
  async updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    const c = checkTeamAccessChange(enterpriseId, change);
    if (c.granted.length === 0 && c.revoked.length === 0) return;
    let teams = this.#teamAccess.get(c.enterpriseId);
    if (teams === undefined) {
      teams = new Map();
      this.#teamAccess.set(c.enterpriseId, teams);
    }
    for (const t of c.granted) teams.set(t, "granted");
    for (const t of c.revoked) teams.set(t, "revoked");
  }

  /**
   * The workspaces recorded for an org (see {@link InstallationStore.findTeamAccess}).
   *
   * @example
   * ```ts
   * const { revoked } = await store.findTeamAccess("E123");
   * ```
   */
  async findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    const e = checkEnterpriseId(enterpriseId, "findTeamAccess");
    const out: TeamAccess = { granted: [], revoked: [] };
    for (const [t, access] of this.#teamAccess.get(e) ?? []) out[access].push(t);
    out.granted.sort();
    out.revoked.sort();
    return out;
  }

  /**
   * Returns copies of the kept history of a workspace, oldest first (with `userId`, that user's
   * installations only). Empty unless the store was created with `historicalData: true`. Installations
   * are returned as saved, without the latest-bot overlay.
   *
   * @example
   * ```ts
   * const store = new MemoryInstallationStore({ historicalData: true });
   * const { installations, bots } = await store.listHistory({ teamId: "T123" });
   * ```
   */
  async listHistory(query: DeleteInstallationQuery): Promise<{ installations: Installation[]; bots: Bot[] }> {
    const q = normalizeQuery(query, "listHistory");
    const ws = this.#workspace(q);
    const rows = (ws?.installationHistory ?? []).filter((r) => q.userId === undefined || r.inst.userId === q.userId);
    return { installations: rows.map((r) => copyInstallation(r.inst)), bots: (ws?.botHistory ?? []).map(copyBot) };
  }

  /**
   * Lists every workspace (and org): its latest bot and the latest installation of each user, newest first.
   *
   * @example
   * ```ts
   * for (const ws of await store.listWorkspaces()) console.log(ws.teamId, ws.installations.length);
   * ```
   */
  async listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    checkListFilter(filter);
    const out: WorkspaceInstallations[] = [];
    for (const [e, teams] of this.#index) {
      for (const [t, ws] of teams) {
        const head = workspaceHead(e === NO_ENTERPRISE ? undefined : e, t === ORG ? undefined : t, filter);
        if (head === undefined) continue;
        const users = [...ws.users.values()].map((row) => ({ seq: row.seq, installation: copyInstallation(row.inst) }));
        const entry = completeWorkspace(head, ws.bot === undefined ? undefined : copyBot(ws.bot), users);
        if (entry !== undefined) out.push(entry);
      }
    }
    return out.sort(compareWorkspaces);
  }

  /**
   * Token rotation: changes only the given token fields of the workspace's latest bot and/or of one
   * user's latest installation, in place (nothing becomes "latest", the history is not touched). With
   * `expect`, a compare-and-set: resolves `false` and writes nothing unless every expected value matches.
   *
   * @example
   * ```ts
   * await store.updateTokens({ teamId: "T123" }, { botToken, botRefreshToken, botTokenExpiresAt }, { botRefreshToken: used });
   * ```
   */
  async updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    const { q, bot, user } = checkTokenUpdate(query, patch, expect);
    const ws = this.#workspace(q);
    if (ws === undefined) return false;
    const row = q.userId === undefined ? undefined : ws.users.get(q.userId);
    if (!expectationsHold(tokenParts(bot, user, expect), ws.bot, row?.inst, expect)) return false;
    if (bot !== undefined && ws.bot !== undefined) {
      this.#setBot(enterpriseKey(q), teamKey(q), ws, new StoredBot({ ...copyBot(ws.bot), ...bot }, ws.bot.health));
    }
    if (user !== undefined && row !== undefined && q.userId !== undefined) {
      // A new row with the same sequence number: still the same place in "latest" order, and the
      // history (which shares row objects) keeps what was saved.
      const next: Row = { seq: row.seq, inst: { ...copyInstallation(row.inst), ...user }, health: row.health };
      this.#setUser(enterpriseKey(q), teamKey(q), ws, q.userId, next);
      if (ws.latest === row) ws.latest = next;
    }
    return true;
  }

  /**
   * Records the health of the workspace's latest bot (no `userId`) or of one user's latest installation:
   * the health fields only, as a compare-and-set on `expect` (see {@link InstallationStore.recordHealth}).
   *
   * @example
   * ```ts
   * await store.recordHealth({ teamId: "T123" }, { status: "revoked", checkedAt: 1767225600, error: "token_revoked" }, { botToken });
   * ```
   */
  async recordHealth(query: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    const { q, kind, health: h } = checkHealthWrite(query, health, expect);
    const ws = this.#workspace(q);
    if (ws === undefined) return false;
    if (kind === "bot") {
      const bot = ws.bot;
      if (bot === undefined || !expectationsHold({ checkBot: true, checkUser: false }, bot, undefined, expect))
        return false;
      if (!healthIsNewer(bot.health, h)) return false;
      bot.health = h;
      return true;
    }
    const row = ws.users.get(q.userId as string);
    if (row === undefined || !expectationsHold({ checkBot: false, checkUser: true }, undefined, row.inst, expect))
      return false;
    if (!healthIsNewer(row.health, h)) return false;
    row.health = h;
    return true;
  }

  /**
   * Every recorded health (with a filter, of that enterprise and team), in place order.
   *
   * @example
   * ```ts
   * const revoked = (await store.listHealth()).filter((e) => e.health.status === "revoked");
   * ```
   */
  async listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    checkListFilter(filter);
    const out: HealthEntry[] = [];
    for (const [e, teams] of this.#index) {
      for (const [t, ws] of teams) {
        const enterpriseId = e === NO_ENTERPRISE ? undefined : e;
        const teamId = t === ORG ? undefined : t;
        if (workspaceHead(enterpriseId, teamId, filter) === undefined) continue;
        if (ws.bot?.health !== undefined)
          out.push({ ...place("bot", enterpriseId, teamId, undefined), health: { ...ws.bot.health } });
        for (const [userId, row] of ws.users) {
          if (row.health !== undefined)
            out.push({ ...place("user", enterpriseId, teamId, userId), health: { ...row.health } });
        }
      }
    }
    return out.sort(compareHealth);
  }

  /**
   * The rotating tokens expiring at or before `untilSeconds`, soonest first, from a sorted index.
   *
   * @example
   * ```ts
   * const due = await store.listExpiringTokens(Date.now() / 1000 + 7200);
   * ```
   */
  async listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    const { until, limit: n } = checkExpiringQuery(untilSeconds, limit);
    return this.#expiry.until(until, n);
  }

  /**
   * Runs `fn` holding the lock `key`: in-process only (this store is not shared between processes).
   * Rejects with `LockTimeoutError` after `timeoutMs` (default 10 s) of waiting.
   *
   * @example
   * ```ts
   * await store.withLock("rotation/T123/bot", async () => refresh());
   * ```
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const { timeoutMs } = checkLock(key, options);
    return this.#locks.run(key, fn, timeoutMs);
  }

  /**
   * Nothing to release; present for symmetry with the other backends.
   *
   * @example
   * ```ts
   * await store.close();
   * ```
   */
  async close(): Promise<void> {}

  /**
   * Sets the expiry index entry of a workspace's bot (`userId` undefined) or of one user's token from its
   * refresh token and expiry; clears it when there is none (no token, or one that does not expire).
   */
  #setExpiry(
    e: string,
    t: string,
    userId: string | undefined,
    refreshToken: string | undefined,
    expiresAt: number | undefined,
  ): void {
    this.#expiry.set(
      expiryKey(e, t, userId),
      expiringOf(
        userId === undefined ? "bot" : "user",
        e === NO_ENTERPRISE ? undefined : e,
        t === ORG ? undefined : t,
        userId,
        refreshToken,
        expiresAt,
      ),
    );
  }

  /** Sets (or clears) a user's latest installation, and its entry in the expiry index. */
  #setUser(e: string, t: string, ws: Workspace, userId: string, row: Row | undefined): void {
    if (row === undefined) ws.users.delete(userId);
    else ws.users.set(userId, row);
    this.#setExpiry(e, t, userId, row?.inst.userRefreshToken, row?.inst.userTokenExpiresAt);
  }

  /** Sets (or clears) a workspace's latest bot in both indexes, and its entry in the expiry index. */
  #setBot(e: string, t: string, ws: Workspace, bot: StoredBot | undefined): void {
    ws.bot = bot;
    this.#setExpiry(e, t, undefined, bot?.botRefreshToken, bot?.botTokenExpiresAt);
    let teams = this.#bots.get(e);
    if (bot !== undefined) {
      if (teams === undefined) {
        teams = new Map();
        this.#bots.set(e, teams);
      }
      teams.set(t, bot);
    } else if (teams !== undefined) {
      teams.delete(t);
      if (teams.size === 0) this.#bots.delete(e);
    }
  }

  #workspace(q: InstallationQuery): Workspace | undefined {
    return this.#index.get(enterpriseKey(q))?.get(teamKey(q));
  }

  #dropIfEmpty(q: InstallationQuery, ws: Workspace): void {
    if (ws.bot !== undefined || ws.users.size > 0 || ws.installationHistory?.length || ws.botHistory?.length) return;
    const teams = this.#index.get(enterpriseKey(q));
    teams?.delete(teamKey(q));
    if (teams?.size === 0) this.#index.delete(enterpriseKey(q));
  }
}
