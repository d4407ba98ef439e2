/**
 * {@link FileInstallationStore}: installations in JSON files, one directory per workspace, on the store
 * rules shared with the memory store (`records.ts`).
 */ import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { ConfigError, InvalidArgumentError, StoreError } from "../../errors.js";
import { type Bot, type Installation, toBot } from "../../model/installation.js";
import { EncryptionGuard, type EncryptionMarker } from "../encryption-marker.js";
import {
  checkExpiringQuery,
  checkHealthWrite,
  compareExpiring,
  compareHealth,
  type ExpiringToken,
  type HealthEntry,
  healthIsNewer,
  isHealthStatus,
  place,
  type TokenHealth,
} from "../health.js";
import {
  type BotQuery,
  checkEnterpriseId,
  checkLock,
  checkTeamAccessChange,
  checkTokenUpdate,
  compareWorkspaces,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  type LockOptions,
  normalizeQuery,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "../installation-store.js";
import { KeyedMutex, lockOwner, pollForLock } from "../locks.js";
import {
  checkListFilter,
  completeWorkspace,
  expectationsHold,
  expiringOf,
  latestRecord,
  tokenParts,
  workspaceHead,
} from "../records.js";
import { checkQuery, overlayLatestBot, prepareInstallation, resolveWorkspace } from "../store-helpers.js";
import {
  DIR_MODE,
  errCode,
  FILE_MODE,
  isMissing,
  isOrphanTemp,
  listDir,
  parseJson,
  readJson,
  readText,
  readTextSync,
  requireBaseDir,
  syncDir,
  tmpName,
  unlinkIfExists,
  withoutBotSecrets,
  writeAtomic,
} from "./driver.js";

/**
 * Placeholders in directory names. Each starts with `_`, which {@link isValidId} never accepts as a first
 * character, so no real id can produce the same name.
 */
const NO_ENTERPRISE = "_none";
const ORG_WIDE = "_org";
const DEFAULT_CLIENT = "_default";
/** Joins the enterprise and team parts of a workspace directory; `+` never occurs in a valid id. */
const PART_SEP = "+";

const BOT_LATEST = "bot-latest.json";
/** Lease files of `withLock`, one per key (named by a hash of it); no `+`, so never a workspace directory. */
const LOCKS_DIR = ".locks";
const INSTALLER_LATEST = "installer-latest.json";
/** In an org-wide install's folder: the workspaces an org admin granted or revoked. */
const TEAM_ACCESS = "team-access.json";
const HISTORY_DIR = "history";
/** The encryption marker, next to the client directories: `<baseDir>/.encryption-keys/<keyId>.json`. */
const MARKER_DIR = ".encryption-keys";
const MARKER_FILE_RE = /^([A-Za-z0-9_-]{1,32})\.json$/;
const userLatest = (userId: string) => `installer${PART_SEP}${userId}${PART_SEP}latest.json`;
const USER_LATEST_RE = /^installer\+([^+]+)\+latest\.json$/;
/** Health of the latest bot / of a user's latest installation: `{ v, seq, health }`, valid while `seq` is the record's. */
const BOT_HEALTH = "bot-health.json";
const userHealth = (userId: string) => `installer${PART_SEP}${userId}${PART_SEP}health.json`;
const USER_HEALTH_RE = /^installer\+([^+]+)\+health\.json$/;
/**
 * The expiry index: `<root>/.expiry/<hour>/<enterprise>+<team>+b` (a bot) or `…+u+<userId>` (a user's
 * token), empty files in the folder of the hour (epoch seconds / 3600, floored) their token expires in.
 * Writes add entries; the reader checks each against its record and removes the stale ones.
 */
const EXPIRY_DIR = ".expiry";
const HOUR = 3600;
const hourOf = (expiresAt: number) => Math.floor(expiresAt / HOUR);

/**
 * Options of {@link FileInstallationStore}.
 *
 * @example
 * ```ts
 * const store = new FileInstallationStore({ baseDir: "./data/installations", clientId: "1234.5678", historicalData: true });
 * ```
 */
export interface FileInstallationStoreOptions {
  /** Directory holding the data (created with mode 0700 when missing). */
  baseDir: string;
  /** Keeps several apps' installations apart in one `baseDir` (default: one shared `_default` directory). */
  clientId?: string | undefined;
  /**
   * Keep every saved installation and bot as a timestamped file under `history/` (default `false`:
   * only the latest per user and the latest bot per workspace). Lookups never read the history.
   */
  historicalData?: boolean | undefined;
  /**
   * Read lookups with blocking `readSync` (default `false`). About ten times faster on a local disk
   * (~4 µs instead of ~35 µs per `findBot`), but each lookup blocks the event loop for the duration of
   * its read.
   *
   * > [!WARNING]
   * > Only for local disks. On a network file system a read can block every request of the process.
   */
  syncReads?: boolean | undefined;
}

/** On-disk record: a format version, the save sequence ("latest" order) and the value. */
interface InstallationRecord {
  v: 1;
  seq: number;
  installation: Installation;
}
interface BotRecord {
  v: 1;
  seq: number;
  bot: Bot;
}
/** A health file: the health of the record with sequence `seq` (another seq: a reinstall since, ignored). */
interface HealthRecord {
  v: 1;
  seq: number;
  health: TokenHealth;
}

function asHealthRecord(v: unknown): HealthRecord | undefined {
  const r = v as Partial<HealthRecord> | undefined;
  if (r === undefined || r === null || r.v !== 1 || typeof r.seq !== "number") return undefined;
  const h = r.health as Partial<TokenHealth> | undefined;
  if (h === undefined || h === null || !isHealthStatus(h.status) || typeof h.checkedAt !== "number") return undefined;
  return r as HealthRecord;
}

/** A `withLock` lease file. */
interface LeaseRecord {
  v: 1;
  owner: string;
  /** Epoch ms after which the lease may be broken. */
  expiresAt: number;
  pid: number;
}

async function readLease(path: string): Promise<LeaseRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path, "utf8")) as Partial<LeaseRecord>;
    return typeof r.owner === "string" && typeof r.expiresAt === "number" ? (r as LeaseRecord) : undefined;
  } catch {
    return undefined;
  }
}

function asInstallationRecord(v: unknown, path: string): InstallationRecord | undefined {
  if (v === undefined) return undefined;
  const r = v as Partial<InstallationRecord>;
  if (r.v !== 1 || typeof r.seq !== "number" || r.installation === null || typeof r.installation !== "object")
    throw new StoreError(`file store: ${path} is not an installation record`);
  return r as InstallationRecord;
}
function asBotRecord(v: unknown, path: string): BotRecord | undefined {
  if (v === undefined) return undefined;
  const r = v as Partial<BotRecord>;
  if (r.v !== 1 || typeof r.seq !== "number" || r.bot === null || typeof r.bot !== "object")
    throw new StoreError(`file store: ${path} is not a bot record`);
  return r as BotRecord;
}

/** Creates `dir` (and its parents) with the store's folder mode, or fails with a StoreError naming it. */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (cause) {
    throw new StoreError(`file store: cannot create ${dir}`, { cause });
  }
}

/**
 * An {@link InstallationStore} on JSON files, one directory per workspace, safe for several processes:
 *
 * ```text
 * <baseDir>/<clientId|_default>/<enterpriseId|_none>+<teamId|_org>/
 *   bot-latest.json                  latest bot of the workspace
 *   installer-latest.json            latest installation, any user
 *   installer+<userId>+latest.json   latest installation of each user
 *   history/                         with historicalData: bot+<seq>+<rand>.json, installer+<userId>+<seq>+<rand>.json
 *   team-access.json                 org-wide installs (<enterpriseId>+_org): { teams: { T…: "granted" | "revoked" } }
 * ```
 *
 * Every lookup reads one or two files at a path built only from ids checked by {@link isValidId};
 * placeholders (`_none`, `_org`, `_default`) start with `_`, which no valid id does, and `+` never
 * occurs in an id, so names cannot collide. There is no in-process cache, so a write by another process
 * is visible to the next lookup. "Latest" is the order of saves (a sequence stored in each record),
 * not `installedAt`.
 *
 * Saves and deletes are serialised per workspace within a process. Across processes each file is
 * replaced atomically, but two processes saving the same workspace at the same instant may leave
 * `installer-latest.json` from either of them.
 *
 * @example
 * ```ts
 * import { FileInstallationStore } from "slack-oauth-kit/stores/file";
 * const store = new FileInstallationStore({ baseDir: "./data/installations" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T123" });
 * ```
 */
export class FileInstallationStore implements InstallationStore {
  readonly #root: string;
  /** The app partition (the `clientId` option; `''`: the default partition, directory `_default`). */
  readonly clientId: string;
  readonly #history: boolean;
  readonly #read: (path: string) => Promise<unknown>;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** In-process queue of {@link withLock} callers, before the lease file. */
  readonly #keyLocks = new KeyedMutex();
  readonly #base: string;
  readonly #guard: EncryptionGuard;
  #opening: Promise<void> | undefined;
  #open = false;
  #lastSeq = 0;
  /** The encryption marker: `<baseDir>/.encryption-keys/<keyId>.json`, read when the store opens. */
  readonly encryptionMarker: EncryptionMarker;

  /** True when the store keeps every saved installation (the `historicalData` option), not only the latest. */
  get historicalData(): boolean {
    return this.#history;
  }

  constructor(options: FileInstallationStoreOptions) {
    const base = requireBaseDir(options?.baseDir, "FileInstallationStore");
    const clientId = options.clientId;
    if (clientId !== undefined && !isValidId(clientId))
      throw new ConfigError(
        "FileInstallationStore: clientId must be a Slack client id (letters, digits, '.', '-', '_')",
      );
    this.#root = `${base}/${clientId ?? DEFAULT_CLIENT}`;
    this.clientId = clientId ?? "";
    this.#base = base;
    this.#guard = this.#markerGuard();
    this.encryptionMarker = this.#guard.marker;
    this.#history = options.historicalData === true;
    this.#read =
      options.syncReads === true ? async (path) => parseJson(readTextSync(path), path) : (path) => readJson(path);
  }

  /**
   * Opens the store (also done by the first call): reads the encryption marker and removes what crashed
   * writers left behind — temp files (they may hold tokens) and half-deleted workspace folders. Rejects
   * with `EncryptionError` (`key-missing`) on a store holding encrypted tokens opened without its keys.
   *
   * @example
   * ```ts
   * await store.open();
   * ```
   */
  async open(): Promise<void> {
    await this.#openOnce();
    this.#guard.check();
  }

  #openOnce(): Promise<void> {
    this.#opening ??= (async () => {
      await this.#guard.load();
      await this.#sweep();
      this.#open = true;
    })().catch((e) => {
      this.#opening = undefined;
      throw e;
    });
    return this.#opening;
  }

  /** Before a write: opened, and writable without keys (or an encryption wrapper is attached). */
  async #readyToWrite(): Promise<void> {
    if (!this.#open) await this.open();
    await this.#guard.checkWrite();
  }

  #markerGuard(): EncryptionGuard {
    const dir = `${this.#base}/${MARKER_DIR}`;
    const list = async (): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      for (const n of await listDir(dir)) {
        const m = MARKER_FILE_RE.exec(n);
        if (!m) continue;
        const rec = (await readJson(`${dir}/${n}`)) as { check?: unknown } | undefined;
        if (rec !== undefined) out.set(m[1] as string, typeof rec?.check === "string" ? rec.check : "");
      }
      return out;
    };
    return new EncryptionGuard("FileInstallationStore", {
      open: () => this.#openOnce(),
      list,
      put: async (keyId, check) => {
        if ((await list()).has(keyId)) return;
        await makeDir(dir);
        await writeAtomic(dir, `${keyId}.json`, JSON.stringify({ v: 1, check }));
      },
      remove: async (keyId) => {
        await unlinkIfExists(`${dir}/${keyId}.json`);
        await syncDir(dir).catch(() => {});
      },
    });
  }

  /**
   * The workspace folders under the root that `filter` admits, with their ids and listing head. Only
   * folders this store names: anything else (temp files, foreign names) is skipped.
   */
  async *#workspaceFolders(filter: WorkspaceQuery | undefined): AsyncGenerator<{
    dir: string;
    enterpriseId: string | undefined;
    teamId: string | undefined;
    head: WorkspaceInstallations;
  }> {
    for (const name of await listDir(this.#root)) {
      const parts = name.split(PART_SEP);
      if (parts.length !== 2) continue;
      const [e, t] = parts as [string, string];
      if ((e !== NO_ENTERPRISE && !isValidId(e)) || (t !== ORG_WIDE && !isValidId(t))) continue;
      const enterpriseId = e === NO_ENTERPRISE ? undefined : e;
      const teamId = t === ORG_WIDE ? undefined : t;
      const head = workspaceHead(enterpriseId, teamId, filter);
      if (head === undefined) continue;
      yield { dir: `${this.#root}/${name}`, enterpriseId, teamId, head };
    }
  }

  /** Removes orphan temp files (every store folder) and `.deleted-*` folders a crashed `deleteAll` left. */
  async #sweep(): Promise<void> {
    const dirs: string[] = [`${this.#base}/${MARKER_DIR}`, `${this.#root}/${LOCKS_DIR}`];
    for (const name of await listDir(this.#root)) {
      const path = `${this.#root}/${name}`;
      if (name.startsWith(".deleted-")) {
        await rm(path, { recursive: true, force: true }).catch(() => {});
      } else if (await isOrphanTemp(path, name)) {
        await unlink(path).catch(() => {});
      } else if (name.includes(PART_SEP)) {
        dirs.push(path, `${path}/${HISTORY_DIR}`);
      }
    }
    for (const dir of dirs) {
      for (const name of await listDir(dir)) {
        const path = `${dir}/${name}`;
        if (await isOrphanTemp(path, name)) await unlink(path).catch(() => {});
      }
    }
  }

  /**
   * Saves an installation atomically: it becomes the workspace's latest, its user's latest and (with a
   * bot token) the latest bot. Throws `InvalidArgumentError` for bad input (nothing written), `StoreError`
   * when the disk fails.
   *
   * @example
   * ```ts
   * await store.save(installation);
   * ```
   */
  async save(installation: Installation): Promise<void> {
    const inst = prepareInstallation(installation);
    const dir = this.#dir(inst.enterpriseId, inst.isEnterpriseInstall ? undefined : inst.teamId);
    await this.#readyToWrite();
    await this.#locked(dir, async () => {
      await makeDir(dir);
      // Only their sequence numbers matter here; a damaged file is about to be replaced, so it must not block saves.
      const [prev, prevBot] = await Promise.all([
        readJson(`${dir}/${INSTALLER_LATEST}`)
          .then((v) => asInstallationRecord(v, INSTALLER_LATEST))
          .catch(() => undefined),
        readJson(`${dir}/${BOT_LATEST}`)
          .then((v) => asBotRecord(v, BOT_LATEST))
          .catch(() => undefined),
      ]);
      const seq = this.#nextSeq(Math.max(prev?.seq ?? 0, prevBot?.seq ?? 0));
      // The bot's secrets live in bot files only (lookups take them from the latest bot): one place to
      // rotate, re-key or delete them.
      const record = JSON.stringify({ v: 1, seq, installation: withoutBotSecrets(inst) } satisfies InstallationRecord);
      const bot = toBot(inst);
      const botRecord = bot && JSON.stringify({ v: 1, seq, bot } satisfies BotRecord);
      if (this.#history) {
        const hist = `${dir}/${HISTORY_DIR}`;
        await makeDir(hist);
        const suffix = `${PART_SEP}${seq}${PART_SEP}${randomBytes(4).toString("hex")}.json`;
        await writeAtomic(hist, `installer${PART_SEP}${inst.userId}${suffix}`, record);
        if (botRecord) await writeAtomic(hist, `bot${suffix}`, botRecord);
      }
      if (botRecord) await writeAtomic(dir, BOT_LATEST, botRecord);
      await writeAtomic(dir, userLatest(inst.userId), record);
      await writeAtomic(dir, INSTALLER_LATEST, record);
      await this.#indexExpiry(dir, bot?.botRefreshToken, bot?.botTokenExpiresAt, undefined);
      await this.#indexExpiry(dir, inst.userRefreshToken, inst.userTokenExpiresAt, inst.userId);
    });
  }

  /**
   * Returns the workspace's (or org's) latest bot, read from disk, or `undefined`.
   *
   * @example
   * ```ts
   * const bot = await store.findBot({ enterpriseId: "E123", teamId: "T123" });
   * ```
   */
  async findBot(query: BotQuery): Promise<Bot | undefined> {
    const dir = this.#queryDir(checkQuery(query, "findBot"));
    if (!this.#open) await this.open();
    this.#guard.check();
    return this.#guard.checkRecord(asBotRecord(await this.#read(`${dir}/${BOT_LATEST}`), BOT_LATEST)?.bot);
  }

  /**
   * Returns the latest installation (with `userId`, that user's latest), its bot fields taken from the
   * workspace's latest bot; `undefined` when there is none.
   *
   * @example
   * ```ts
   * const inst = await store.findInstallation({ teamId: "T123", userId: "U123" });
   * ```
   */
  async findInstallation(query: InstallationQuery): Promise<Installation | undefined> {
    const q = checkQuery(query, "findInstallation");
    const dir = this.#queryDir(q);
    const name = q.userId === undefined ? INSTALLER_LATEST : userLatest(q.userId);
    if (!this.#open) await this.open();
    this.#guard.check();
    const [rec, bot] = await Promise.all([
      this.#read(`${dir}/${name}`).then((v) => asInstallationRecord(v, name)),
      this.#read(`${dir}/${BOT_LATEST}`).then((v) => asBotRecord(v, BOT_LATEST)),
    ]);
    return rec === undefined ? undefined : this.#guard.checkRecord(overlayLatestBot(rec.installation, bot?.bot));
  }

  /**
   * Deletes the workspace's bot files (latest and history). Installations stay.
   *
   * @example
   * ```ts
   * await store.deleteBot({ teamId: "T123" });
   * ```
   */
  async deleteBot(query: WorkspaceQuery): Promise<void> {
    const dir = this.#queryDir(normalizeQuery(query, "deleteBot"));
    await this.#readyToWrite();
    await this.#locked(dir, async () => {
      await unlinkIfExists(`${dir}/${BOT_LATEST}`);
      await unlinkIfExists(`${dir}/${BOT_HEALTH}`);
      await this.#deleteHistory(dir, (n) => n.startsWith(`bot${PART_SEP}`));
    });
  }

  /**
   * Deletes installations, as slack_sdk does: with `userId`, that user's files (history included), and
   * `installer-latest.json` then holds the latest remaining user's installation; without `userId`, every
   * installation file of the workspace. The bot is kept either way (use {@link deleteBot} / {@link deleteAll}).
   * Deleting one user lists the workspace directory (deletes may scan; lookups never do).
   *
   * @example
   * ```ts
   * await store.deleteInstallation({ teamId: "T123", userId: "U123" });
   * ```
   */
  async deleteInstallation(query: DeleteInstallationQuery): Promise<void> {
    const q = normalizeQuery(query, "deleteInstallation");
    const dir = this.#queryDir(q);
    const userId = q.userId;
    await this.#readyToWrite();
    await this.#locked(dir, async () => {
      if (userId === undefined) {
        // The workspace-wide file first: from here on no lookup without userId returns anything.
        await unlinkIfExists(`${dir}/${INSTALLER_LATEST}`);
        for (const n of await listDir(dir))
          if (USER_LATEST_RE.test(n) || USER_HEALTH_RE.test(n)) await unlinkIfExists(`${dir}/${n}`);
        await this.#deleteHistory(dir, (n) => n.startsWith(`installer${PART_SEP}`));
        return;
      }
      const latest = await readJson(`${dir}/${INSTALLER_LATEST}`)
        .then((v) => asInstallationRecord(v, INSTALLER_LATEST))
        .catch(() => "damaged" as const);
      // A damaged workspace file is rebuilt too: it might hold this user's tokens.
      if (latest === "damaged" || latest?.installation.userId === userId) {
        // Replace the workspace's latest with the latest remaining user's before removing the user's files.
        const remaining: InstallationRecord[] = [];
        for (const n of await listDir(dir)) {
          const m = USER_LATEST_RE.exec(n);
          if (!m || m[1] === userId) continue;
          const r = await readJson(`${dir}/${n}`)
            .then((v) => asInstallationRecord(v, n))
            .catch(() => undefined); // a damaged user file cannot become the workspace's latest
          if (r) remaining.push(r);
        }
        const next = latestRecord(remaining);
        if (next) await writeAtomic(dir, INSTALLER_LATEST, JSON.stringify(next));
        else await unlinkIfExists(`${dir}/${INSTALLER_LATEST}`);
      }
      await unlinkIfExists(`${dir}/${userLatest(userId)}`);
      await unlinkIfExists(`${dir}/${userHealth(userId)}`);
      await this.#deleteHistory(dir, (n) => n.startsWith(`installer${PART_SEP}${userId}${PART_SEP}`));
    });
  }

  /**
   * Deletes the workspace's directory (installations, bots, history): renamed away first, so other
   * processes see all of it or none of it.
   *
   * @example
   * ```ts
   * await store.deleteAll({ enterpriseId: "E123", teamId: "T123" }); // on app_uninstalled
   * ```
   */
  async deleteAll(query: WorkspaceQuery): Promise<void> {
    const dir = this.#queryDir(normalizeQuery(query, "deleteAll"));
    await this.#readyToWrite();
    await this.#locked(dir, async () => {
      const trash = `${this.#root}/.deleted-${randomBytes(12).toString("hex")}`;
      try {
        await rename(dir, trash);
      } catch (e) {
        if (isMissing(e)) return;
        throw new StoreError(`file store: cannot delete ${dir}`, { cause: e });
      }
      await rm(trash, { recursive: true, force: true }).catch((cause) => {
        throw new StoreError(`file store: cannot delete ${trash}`, { cause });
      });
    });
  }

  /**
   * Records workspaces of an org-wide install as granted or revoked (see
   * {@link InstallationStore.updateTeamAccess}): `team-access.json` in the org's folder, replaced atomically.
   *
   * @example
   * ```ts
   * await store.updateTeamAccess("E123", { revoked: ["T123"] });
   * ```
   */
  async updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    const c = checkTeamAccessChange(enterpriseId, change);
    if (c.granted.length === 0 && c.revoked.length === 0) return;
    const dir = this.#dir(c.enterpriseId, undefined);
    await this.#readyToWrite();
    await this.#locked(dir, async () => {
      await makeDir(dir);
      const teams = await this.#readTeamAccess(dir);
      for (const t of c.granted) teams[t] = "granted";
      for (const t of c.revoked) teams[t] = "revoked";
      await writeAtomic(dir, TEAM_ACCESS, JSON.stringify({ v: 1, teams }));
    });
  }

  /**
   * The workspaces recorded for an org (see {@link InstallationStore.findTeamAccess}), read from disk.
   *
   * @example
   * ```ts
   * const { revoked } = await store.findTeamAccess("E123");
   * ```
   */
  async findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    const e = checkEnterpriseId(enterpriseId, "findTeamAccess");
    if (!this.#open) await this.open();
    this.#guard.check();
    const teams = await this.#readTeamAccess(this.#dir(e, undefined));
    const out: TeamAccess = { granted: [], revoked: [] };
    for (const [t, access] of Object.entries(teams)) out[access].push(t);
    out.granted.sort();
    out.revoked.sort();
    return out;
  }

  /** The team access file of an org folder (`{}` when there is none); a damaged file is a `StoreError`. */
  async #readTeamAccess(dir: string): Promise<Record<string, "granted" | "revoked">> {
    const raw = await this.#read(`${dir}/${TEAM_ACCESS}`);
    if (raw === undefined) return {};
    const teams = (raw as { teams?: unknown } | null)?.teams;
    if (teams === null || typeof teams !== "object" || Array.isArray(teams))
      throw new StoreError(`file store: ${dir}/${TEAM_ACCESS} is not a team access record`);
    const out: Record<string, "granted" | "revoked"> = {};
    for (const [t, v] of Object.entries(teams as Record<string, unknown>)) {
      if (isValidId(t) && (v === "granted" || v === "revoked")) out[t] = v;
    }
    return out;
  }

  /**
   * Reads the kept history of a workspace, oldest first (with `userId`, that user's installations only).
   * Empty unless the store was created with `historicalData: true`. Lists a directory: not for hot paths.
   *
   * @example
   * ```ts
   * const store = new FileInstallationStore({ baseDir: "./data", historicalData: true });
   * const { installations, bots } = await store.listHistory({ teamId: "T123" });
   * ```
   */
  async listHistory(query: DeleteInstallationQuery): Promise<{ installations: Installation[]; bots: Bot[] }> {
    const q = normalizeQuery(query, "listHistory");
    const hist = `${this.#queryDir(q)}/${HISTORY_DIR}`;
    const names = await listDir(hist);
    const userPrefix = q.userId === undefined ? `installer${PART_SEP}` : `installer${PART_SEP}${q.userId}${PART_SEP}`;
    const installations: InstallationRecord[] = [];
    const bots: BotRecord[] = [];
    for (const n of names) {
      if (n.startsWith(userPrefix)) {
        const r = asInstallationRecord(await readJson(`${hist}/${n}`), n);
        if (r) installations.push(r);
      } else if (n.startsWith(`bot${PART_SEP}`)) {
        const r = asBotRecord(await readJson(`${hist}/${n}`), n);
        if (r) bots.push(r);
      }
    }
    installations.sort((a, b) => a.seq - b.seq);
    bots.sort((a, b) => a.seq - b.seq);
    return { installations: installations.map((r) => r.installation), bots: bots.map((r) => r.bot) };
  }

  /**
   * Lists every workspace (and org) under this store's directory: its latest bot and the latest
   * installation of each user, newest first. Reads the whole tree: for admin tools, not requests.
   *
   * @example
   * ```ts
   * for (const ws of await store.listWorkspaces()) console.log(ws.teamId, ws.bot?.botId);
   * ```
   */
  async listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    checkListFilter(filter);
    if (!this.#open) await this.open();
    this.#guard.check();
    const out: WorkspaceInstallations[] = [];
    for await (const { dir, head } of this.#workspaceFolders(filter)) {
      const bot = await this.#read(`${dir}/${BOT_LATEST}`)
        .then((v) => asBotRecord(v, BOT_LATEST))
        .catch(() => undefined);
      const records: InstallationRecord[] = [];
      for (const file of await listDir(dir)) {
        const m = USER_LATEST_RE.exec(file);
        if (!m || !isValidId(m[1])) continue;
        const rec = await this.#read(`${dir}/${file}`)
          .then((v) => asInstallationRecord(v, file))
          .catch(() => undefined);
        if (rec) records.push(rec);
      }
      const entry = completeWorkspace(head, bot?.bot, records);
      if (entry === undefined) continue;
      this.#guard.checkRecord(entry.bot);
      for (const i of entry.installations) this.#guard.checkRecord(i);
      out.push(entry);
    }
    return out.sort(compareWorkspaces);
  }

  /**
   * Token rotation: rewrites only the given token fields of the workspace's latest bot file and/or of one
   * user's latest installation file (and `installer-latest.json` when it is that same record), keeping
   * their sequence numbers, so nothing becomes "latest" and no other user's file is touched. With
   * `expect`, a compare-and-set within this process; across processes, hold {@link withLock} around it
   * (token rotation does).
   *
   * @example
   * ```ts
   * await store.updateTokens({ teamId: "T123", userId: "U123" }, { userToken, userRefreshToken, userTokenExpiresAt }, { userRefreshToken: used });
   * ```
   */
  async updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    const { q, bot, user } = checkTokenUpdate(query, patch, expect);
    const dir = this.#queryDir(q);
    const { checkBot, checkUser } = tokenParts(bot, user, expect);
    await this.#readyToWrite();
    return this.#locked(dir, async () => {
      const userName = q.userId === undefined ? undefined : userLatest(q.userId);
      const [botRec, userRec] = await Promise.all([
        checkBot ? readJson(`${dir}/${BOT_LATEST}`).then((v) => asBotRecord(v, BOT_LATEST)) : undefined,
        checkUser && userName
          ? readJson(`${dir}/${userName}`).then((v) => asInstallationRecord(v, userName))
          : undefined,
      ]);
      if (!expectationsHold({ checkBot, checkUser }, botRec?.bot, userRec?.installation, expect)) return false;
      if (bot !== undefined && botRec !== undefined) {
        const next: BotRecord = { v: 1, seq: botRec.seq, bot: { ...botRec.bot, ...bot } };
        await writeAtomic(dir, BOT_LATEST, JSON.stringify(next));
        await this.#indexExpiry(dir, next.bot.botRefreshToken, next.bot.botTokenExpiresAt, undefined);
        // Installation files written by older versions kept a copy of the bot's secrets that is never read:
        // drop it, so no stale token (or a token under an old encryption key) lingers after a rotation or rekey.
        for (const n of await listDir(dir)) {
          if (n !== INSTALLER_LATEST && !USER_LATEST_RE.test(n)) continue;
          const r = await readJson(`${dir}/${n}`)
            .then((v) => asInstallationRecord(v, n))
            .catch(() => undefined);
          if (
            r !== undefined &&
            (r.installation.botToken !== undefined || r.installation.botRefreshToken !== undefined)
          )
            await writeAtomic(dir, n, JSON.stringify({ ...r, installation: withoutBotSecrets(r.installation) }));
        }
      }
      if (user !== undefined && userRec !== undefined && userName !== undefined) {
        const next: InstallationRecord = { v: 1, seq: userRec.seq, installation: { ...userRec.installation, ...user } };
        const text = JSON.stringify(next);
        await writeAtomic(dir, userName, text);
        await this.#indexExpiry(
          dir,
          next.installation.userRefreshToken,
          next.installation.userTokenExpiresAt,
          next.installation.userId,
        );
        // The workspace's latest is a copy of the latest save: patch it too when it is this same record.
        const latest = await readJson(`${dir}/${INSTALLER_LATEST}`)
          .then((v) => asInstallationRecord(v, INSTALLER_LATEST))
          .catch(() => undefined);
        if (latest !== undefined && latest.seq === userRec.seq && latest.installation.userId === q.userId) {
          await writeAtomic(dir, INSTALLER_LATEST, text);
        }
      }
      return true;
    });
  }

  /**
   * Records a token's health in its own file (`bot-health.json`, `installer+<userId>+health.json`) tied
   * to the record's sequence number: a token file is never rewritten, so a concurrent refresh (even by
   * another process) is never undone. The expectation and the "no later check" rule are checked under
   * this process's per-workspace queue.
   *
   * @example
   * ```ts
   * await store.recordHealth({ teamId: "T123" }, { status: "ok", checkedAt: 1767225600 }, { botToken });
   * ```
   */
  async recordHealth(query: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    const { q, kind, health: h } = checkHealthWrite(query, health, expect);
    const dir = this.#queryDir(q);
    await this.#readyToWrite();
    return this.#locked(dir, async () => {
      const userId = q.userId;
      const [recordName, healthName] =
        kind === "bot" || userId === undefined ? [BOT_LATEST, BOT_HEALTH] : [userLatest(userId), userHealth(userId)];
      const raw = await readJson(`${dir}/${recordName}`);
      let seq: number;
      if (kind === "bot") {
        const rec = asBotRecord(raw, recordName);
        if (rec === undefined || !expectationsHold({ checkBot: true, checkUser: false }, rec.bot, undefined, expect))
          return false;
        seq = rec.seq;
      } else {
        const rec = asInstallationRecord(raw, recordName);
        if (
          rec === undefined ||
          !expectationsHold({ checkBot: false, checkUser: true }, undefined, rec.installation, expect)
        )
          return false;
        seq = rec.seq;
      }
      const stored = asHealthRecord(await readJson(`${dir}/${healthName}`).catch(() => undefined));
      if (stored !== undefined && stored.seq === seq && !healthIsNewer(stored.health, h)) return false;
      const written = JSON.stringify({ v: 1, seq, health: h } satisfies HealthRecord);
      await writeAtomic(dir, healthName, written);
      if (expect === undefined) return true;
      // Another process may have refreshed the token between the check and the write (no lock spans
      // processes here): checked again after the write, and the verdict withdrawn if its token is gone.
      const again = await readJson(`${dir}/${recordName}`).catch(() => undefined);
      const still =
        kind === "bot"
          ? expectationsHold(
              { checkBot: true, checkUser: false },
              asBotRecord(again, recordName)?.bot,
              undefined,
              expect,
            )
          : expectationsHold(
              { checkBot: false, checkUser: true },
              undefined,
              asInstallationRecord(again, recordName)?.installation,
              expect,
            );
      if (still) return true;
      const now = await readText(`${dir}/${healthName}`).catch(() => undefined);
      if (now === written) {
        if (stored === undefined) await unlinkIfExists(`${dir}/${healthName}`);
        else await writeAtomic(dir, healthName, JSON.stringify(stored));
      }
      return false;
    });
  }

  /**
   * Every recorded health (with a filter, of that enterprise and team): reads each workspace folder's
   * health files and the records they belong to. For admin tools, not requests.
   *
   * @example
   * ```ts
   * const entries = await store.listHealth({ teamId: "T123" });
   * ```
   */
  async listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    checkListFilter(filter);
    if (!this.#open) await this.open();
    this.#guard.check();
    const out: HealthEntry[] = [];
    for await (const { dir, enterpriseId, teamId } of this.#workspaceFolders(filter)) {
      for (const file of await listDir(dir)) {
        const userId = file === BOT_HEALTH ? undefined : USER_HEALTH_RE.exec(file)?.[1];
        if (file !== BOT_HEALTH && (userId === undefined || !isValidId(userId))) continue;
        const h = asHealthRecord(await readJson(`${dir}/${file}`).catch(() => undefined));
        if (h === undefined) continue;
        const recordName = userId === undefined ? BOT_LATEST : userLatest(userId);
        const rec = (await readJson(`${dir}/${recordName}`).catch(() => undefined)) as { seq?: unknown } | undefined;
        if (rec?.seq !== h.seq) continue; // reinstalled (or deleted) since: that health is not this record's
        out.push({ ...place(userId === undefined ? "bot" : "user", enterpriseId, teamId, userId), health: h.health });
      }
    }
    return out.sort(compareHealth);
  }

  /**
   * The rotating tokens expiring at or before `untilSeconds`, from the hourly expiry index folders up to
   * that hour (not every workspace): each entry is checked against its record, stale ones are removed.
   *
   * @example
   * ```ts
   * const due = await store.listExpiringTokens(Date.now() / 1000 + 7200);
   * ```
   */
  async listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    const { until, limit: n } = checkExpiringQuery(untilSeconds, limit);
    if (!this.#open) await this.open();
    this.#guard.check();
    const index = `${this.#root}/${EXPIRY_DIR}`;
    const hours = (await listDir(index))
      .filter((h) => /^-?\d{1,12}$/.test(h) && Number(h) <= hourOf(until))
      .map(Number)
      .sort((a, b) => a - b);
    const out: ExpiringToken[] = [];
    for (const hour of hours) {
      if (out.length >= n) break;
      const folder = `${index}/${hour}`;
      const entries = await listDir(folder);
      for (const entry of entries) {
        const token = await this.#checkEntry(entry, hour);
        if (token === undefined) await unlinkIfExists(`${folder}/${entry}`).catch(() => {});
        else if (token.expiresAt <= until) out.push(token);
      }
      // An hour folder left empty goes (`rmdir` removes only an empty one: an entry written meanwhile stays).
      if (entries.length === 0 || (await listDir(folder)).length === 0) await rmdir(folder).catch(() => {});
    }
    return out.sort(compareExpiring).slice(0, n);
  }

  /** The token an expiry entry names, if its record still expires in `hour`; `undefined`: a stale entry. */
  async #checkEntry(entry: string, hour: number): Promise<ExpiringToken | undefined> {
    const parts = entry.split(PART_SEP);
    if (parts.length !== 3 && parts.length !== 4) return undefined;
    const [e, t, kind, userId] = parts as [string, string, string, string | undefined];
    if ((e !== NO_ENTERPRISE && !isValidId(e)) || (t !== ORG_WIDE && !isValidId(t))) return undefined;
    const enterpriseId = e === NO_ENTERPRISE ? undefined : e;
    const teamId = t === ORG_WIDE ? undefined : t;
    const dir = `${this.#root}/${e}${PART_SEP}${t}`;
    let token: ExpiringToken | undefined;
    if (kind === "b" && userId === undefined) {
      const rec = await readJson(`${dir}/${BOT_LATEST}`)
        .then((v) => asBotRecord(v, BOT_LATEST))
        .catch(() => undefined);
      token =
        rec && expiringOf("bot", enterpriseId, teamId, undefined, rec.bot.botRefreshToken, rec.bot.botTokenExpiresAt);
    } else if (kind === "u" && userId !== undefined && isValidId(userId)) {
      const name = userLatest(userId);
      const rec = await readJson(`${dir}/${name}`)
        .then((v) => asInstallationRecord(v, name))
        .catch(() => undefined);
      token =
        rec &&
        expiringOf(
          "user",
          enterpriseId,
          teamId,
          userId,
          rec.installation.userRefreshToken,
          rec.installation.userTokenExpiresAt,
        );
    }
    return token !== undefined && hourOf(token.expiresAt) === hour ? token : undefined;
  }

  /** Adds the expiry index entry of a rotating token (nothing for a token without refresh token or expiry). */
  async #indexExpiry(
    dir: string,
    refreshToken: string | undefined,
    expiresAt: number | undefined,
    userId: string | undefined,
  ): Promise<void> {
    if (refreshToken === undefined || refreshToken === "" || typeof expiresAt !== "number") return;
    const folder = `${this.#root}/${EXPIRY_DIR}/${hourOf(expiresAt)}`;
    const ws = dir.slice(dir.lastIndexOf("/") + 1);
    const entry = userId === undefined ? `${ws}${PART_SEP}b` : `${ws}${PART_SEP}u${PART_SEP}${userId}`;
    const write = async () => {
      await mkdir(folder, { recursive: true, mode: DIR_MODE });
      await writeFile(`${folder}/${entry}`, "", { mode: FILE_MODE });
    };
    try {
      // A listing may remove the hour folder, empty, between our mkdir and our write: once more then.
      await write().catch((e: unknown) => (isMissing(e) ? write() : Promise.reject(e)));
    } catch (cause) {
      throw new StoreError(`file store: cannot write the expiry index in ${folder}`, { cause });
    }
  }

  /**
   * Runs `fn` holding the lock `key`, across every process sharing this directory: a lease file
   * `.locks/<hash>.lock` created atomically (written aside, then `link`ed into place, which fails if it
   * exists). A lease older than `leaseMs` belongs to a dead holder and is broken. Callers of one process
   * queue in memory first. Rejects with `LockTimeoutError` after `timeoutMs` (default 10 s).
   *
   * @example
   * ```ts
   * await store.withLock("rotation/T123/bot", async () => refresh(), { timeoutMs: 5_000 });
   * ```
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const { timeoutMs, leaseMs } = checkLock(key, options);
    const deadline = Date.now() + timeoutMs;
    const dir = `${this.#root}/${LOCKS_DIR}`;
    const file = `${dir}/${createHash("sha256").update(key).digest("hex").slice(0, 48)}.lock`;
    return this.#keyLocks.run(
      key,
      async () => {
        await makeDir(dir);
        const owner = lockOwner();
        await pollForLock(() => this.#tryLease(dir, file, owner, leaseMs), deadline, key, timeoutMs);
        try {
          return await fn();
        } finally {
          await this.#releaseLease(dir, file, owner).catch(() => {});
        }
      },
      timeoutMs,
    );
  }

  /**
   * Waits for this process's pending writes. Nothing else to release.
   *
   * @example
   * ```ts
   * await store.close();
   * ```
   */
  async close(): Promise<void> {
    await this.#opening?.catch(() => {});
    await Promise.allSettled([...this.#locks.values()]);
  }

  /** One attempt at the lease: true when this call created the lock file. */
  async #tryLease(dir: string, file: string, owner: string, leaseMs: number): Promise<boolean> {
    const held = await readLease(file);
    if (held !== undefined) {
      if (held.expiresAt > Date.now()) return false;
      // Expired: its holder died (or hung past its lease). Break that very lease, then try again.
      await this.#removeIf(dir, file, held.owner);
    }
    const tmp = `${dir}/${tmpName()}`;
    const lease: LeaseRecord = { v: 1, owner, expiresAt: Date.now() + leaseMs, pid: process.pid };
    try {
      await writeFile(tmp, JSON.stringify(lease), { mode: FILE_MODE, flag: "wx" });
      // link(2) creates the name only if it does not exist: atomic, and the file is complete from the start.
      await link(tmp, file);
      return true;
    } catch (e) {
      if (errCode(e) !== "EEXIST") throw new StoreError("file store: cannot create a lock file", { cause: e });
      if ((await readLease(file)) === undefined) await this.#breakUnreadable(file, leaseMs);
      return false;
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  /** A lock file that exists but cannot be read (a crash mid-write of a foreign tool): removed once stale. */
  async #breakUnreadable(file: string, leaseMs: number): Promise<void> {
    const st = await stat(file).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > leaseMs) await unlink(file).catch(() => {});
  }

  async #releaseLease(dir: string, file: string, owner: string): Promise<void> {
    await this.#removeIf(dir, file, owner);
  }

  /**
   * Removes the lock file if it still holds `owner`'s lease. It is renamed aside first (atomic: only one
   * remover gets it), then checked; a lease that turns out to be someone else's (taken in between) is
   * linked back unless yet another lease was created meanwhile.
   */
  async #removeIf(dir: string, file: string, owner: string): Promise<void> {
    const aside = `${dir}/${tmpName()}`;
    try {
      await rename(file, aside);
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    const got = await readLease(aside);
    if (got !== undefined && got.owner !== owner) await link(aside, file).catch(() => {});
    await unlink(aside).catch(() => {});
  }

  #dir(enterpriseId: string | undefined, teamId: string | undefined): string {
    // Ids were validated by normalizeQuery / validateInstallation; checked again because this is a path.
    for (const v of [enterpriseId, teamId])
      if (v !== undefined && !isValidId(v)) throw new InvalidArgumentError("file store: unsafe id in a path");
    return `${this.#root}/${enterpriseId ?? NO_ENTERPRISE}${PART_SEP}${teamId ?? ORG_WIDE}`;
  }

  #queryDir(q: InstallationQuery): string {
    const w = resolveWorkspace(q);
    return this.#dir(w.enterpriseId, w.teamId);
  }

  /** A save sequence: microseconds since the epoch, but always above the last one seen here or on disk. */
  #nextSeq(onDisk: number): number {
    const seq = Math.max(Date.now() * 1000, this.#lastSeq + 1, onDisk + 1);
    this.#lastSeq = seq;
    return seq;
  }

  async #deleteHistory(dir: string, match: (name: string) => boolean): Promise<void> {
    const hist = `${dir}/${HISTORY_DIR}`;
    for (const n of await listDir(hist)) if (match(n)) await unlinkIfExists(`${hist}/${n}`);
  }

  /** Runs `fn` after every earlier write to the same workspace directory in this process. */
  async #locked<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(dir) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.#locks.set(dir, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(dir) === tail) this.#locks.delete(dir);
    }
  }
}
