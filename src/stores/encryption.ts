/**
 * Encryption at rest for any {@link InstallationStore}: every access and refresh token is stored as
 * `enc:v1:<keyId>:<base64url(iv | ciphertext | tag)>` (AES-256-GCM, 12-byte random IV), bound by its
 * additional authenticated data to its installation and field, and decrypted only when read.
 *
 * @example
 * ```ts
 * import { EncryptedInstallationStore, parseEncryptionKeys } from "slack-oauth-kit";
 *
 * const store = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename }), {
 *   keys: parseEncryptionKeys(process.env.SLACK_TOKEN_ENCRYPTION_KEY),
 * });
 * ```
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ConfigError, EncryptionError } from "../errors.js";
import type { Bot, Installation } from "../model/installation.js";
import type { EncryptionMarker } from "./encryption-marker.js";
import { checkHealthWrite, type ExpiringToken, type HealthEntry, type TokenHealth } from "./health.js";
import {
  type BotQuery,
  checkTokenUpdate,
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
import { sameToken } from "./records.js";
import { requireStore } from "./store-helpers.js";

/**
 * One encryption key: an id (stored with every ciphertext) and 32 bytes.
 *
 * @example
 * ```ts
 * const key: EncryptionKey = { id: "k1", key: randomBytes(32) };
 * ```
 */
export interface EncryptionKey {
  /** 1–32 letters, digits, `_` or `-`. */
  id: string;
  /** 32 bytes (AES-256). */
  key: Buffer;
}

/**
 * Options of {@link EncryptedInstallationStore}.
 *
 * @example
 * ```ts
 * const options: EncryptionOptions = { keys: [{ id: "k2", key: newKey }, { id: "k1", key: oldKey }] };
 * ```
 */
export interface EncryptionOptions {
  /** The keys: the FIRST encrypts; every one decrypts (chosen by the id stored with the value). */
  keys: readonly EncryptionKey[];
}

/** The token fields encrypted at rest. */
export const ENCRYPTED_FIELDS = ["botToken", "botRefreshToken", "userToken", "userRefreshToken"] as const;
/** A token field that encryption at rest covers. */
export type TokenField = "botToken" | "botRefreshToken" | "userToken" | "userRefreshToken";
const BOT_FIELDS: readonly TokenField[] = ["botToken", "botRefreshToken"];
const USER_FIELDS: readonly TokenField[] = ["userToken", "userRefreshToken"];

const PREFIX = "enc:";
const V1 = "enc:v1:";
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where a token belongs: the additional authenticated data that binds a ciphertext to it. */
export interface TokenOwnerIds {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
  userId?: string | undefined;
}

function aad(owner: TokenOwnerIds, field: TokenField): Buffer {
  const team = owner.isEnterpriseInstall === true ? "" : (owner.teamId ?? "");
  const who = field.startsWith("bot") ? "bot" : (owner.userId ?? "");
  return Buffer.from(`${owner.enterpriseId ?? ""}|${team}|${who}|${field}`, "utf8");
}

function checkKeys(keys: unknown): EncryptionKey[] {
  if (!Array.isArray(keys) || keys.length === 0)
    throw new ConfigError("encryption: keys must be a non-empty array of { id, key }");
  const seen = new Set<string>();
  const out: EncryptionKey[] = [];
  keys.forEach((k: unknown, i) => {
    if (k === null || typeof k !== "object") throw new ConfigError(`encryption: keys[${i}] must be { id, key }`);
    const { id, key } = k as { id?: unknown; key?: unknown };
    if (typeof id !== "string" || !KEY_ID_RE.test(id))
      throw new ConfigError(`encryption: keys[${i}].id must be 1-32 letters, digits, '_' or '-'`);
    if (seen.has(id)) throw new ConfigError(`encryption: key id ${JSON.stringify(id)} appears twice`);
    if (!Buffer.isBuffer(key) || key.length !== 32)
      throw new ConfigError(`encryption: key ${JSON.stringify(id)} must be a 32-byte Buffer`);
    seen.add(id);
    out.push({ id, key: Buffer.from(key) });
  });
  return out;
}

/** True when `value` is a ciphertext this module wrote (any key). */
export function isEncryptedValue(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(PREFIX);
}

/** The key id of a ciphertext (`undefined` for plaintext or a malformed value). */
export function encryptedKeyId(value: string): string | undefined {
  if (!value.startsWith(V1)) return undefined;
  const end = value.indexOf(":", V1.length);
  if (end < 0) return undefined;
  const id = value.slice(V1.length, end);
  return KEY_ID_RE.test(id) ? id : undefined;
}

/**
 * The AES-256-GCM codec behind {@link EncryptedInstallationStore} (exported for tools and tests).
 *
 * @example
 * ```ts
 * const codec = new TokenCipher([{ id: "k1", key }]);
 * const stored = codec.encrypt(token, { teamId: "T1" }, "botToken");
 * codec.decrypt(stored, { teamId: "T1" }, "botToken") === token; // true
 * ```
 */
export class TokenCipher {
  readonly #keys: Map<string, Buffer>;
  readonly #current: EncryptionKey;

  constructor(keys: readonly EncryptionKey[]) {
    const checked = checkKeys(keys);
    this.#current = checked[0]!;
    this.#keys = new Map(checked.map((k) => [k.id, k.key]));
  }

  /** Id of the key that encrypts. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Encrypts one token for its owner and field (the owner and field are authenticated, not secret). */
  encrypt(plaintext: string, owner: TokenOwnerIds, field: TokenField): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(owner, field));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const blob = Buffer.concat([iv, ct, cipher.getAuthTag()]).toString("base64url");
    return `${V1}${this.#current.id}:${blob}`;
  }

  /** Plaintext values (no `enc:` prefix) come back as they are. */
  decrypt(stored: string, owner: TokenOwnerIds, field: TokenField): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const keyId = encryptedKeyId(stored);
    if (keyId === undefined)
      throw new EncryptionError("malformed", `encryption: ${field} is not a ciphertext this library wrote`);
    const key = this.#keys.get(keyId);
    if (key === undefined)
      throw new EncryptionError(
        "unknown-key",
        `encryption: ${field} was encrypted with key ${JSON.stringify(keyId)}, which is not configured`,
        { keyId },
      );
    const blob = Buffer.from(stored.slice(V1.length + keyId.length + 1), "base64url");
    if (blob.length < IV_BYTES + TAG_BYTES)
      throw new EncryptionError(
        "malformed",
        `encryption: ${field} ciphertext (key ${JSON.stringify(keyId)}) is truncated`,
        {
          keyId,
        },
      );
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(owner, field));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch (cause) {
      throw new EncryptionError(
        "decrypt-failed",
        `encryption: ${field} does not decrypt with key ${JSON.stringify(keyId)} (wrong key, or the value was tampered with or belongs to another installation)`,
        { keyId, cause },
      );
    }
  }

  /** True when `stored` is already encrypted with the current key. */
  isCurrent(stored: string): boolean {
    return encryptedKeyId(stored) === this.#current.id;
  }

  /** True when key `keyId` is configured. */
  hasKey(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** The encryption marker's check value for the current key: a fixed text only that key decrypts. */
  markerCheck(): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`marker|${this.#current.id}`, "utf8"));
    const ct = Buffer.concat([cipher.update(MARKER_TEXT, "utf8"), cipher.final()]);
    return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString("base64url");
  }

  /** True when `check` (a marker entry of key `keyId`) opens with the configured key of that id. */
  checksMarker(keyId: string, check: string): boolean {
    const key = this.#keys.get(keyId);
    if (key === undefined) return false;
    const blob = Buffer.from(check, "base64url");
    if (blob.length < IV_BYTES + TAG_BYTES) return false;
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(`marker|${keyId}`, "utf8"));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      const text = Buffer.concat([decipher.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
      return text.toString("utf8") === MARKER_TEXT;
    } catch {
      return false;
    }
  }
}

const MARKER_TEXT = "slack-oauth-kit encryption marker v1";

/**
 * Parses `SLACK_TOKEN_ENCRYPTION_KEY`: `id:base64key[,id:base64key…]` (the first encrypts), or a single
 * base64 (or base64url) 32-byte key, whose id is `k1`. Throws {@link ConfigError} naming the entry or key
 * id at fault, never a key.
 *
 * @example
 * ```ts
 * const keys = parseEncryptionKeys(process.env.SLACK_TOKEN_ENCRYPTION_KEY); // e.g. "k2:…,k1:…"
 * ```
 */
export function parseEncryptionKeys(value: string | undefined): EncryptionKey[] {
  if (typeof value !== "string" || value.trim() === "")
    throw new ConfigError("SLACK_TOKEN_ENCRYPTION_KEY is empty: expected id:base64key[,id:base64key...]");
  const entries = value.split(",").map((s) => s.trim());
  const keys: EncryptionKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(":");
    if (colon < 0 && entries.length > 1)
      throw new ConfigError(`SLACK_TOKEN_ENCRYPTION_KEY entry #${i + 1} lacks its "id:" prefix`);
    const id = colon < 0 ? "k1" : entry.slice(0, colon);
    const b64 = colon < 0 ? entry : entry.slice(colon + 1);
    if (!KEY_ID_RE.test(id))
      throw new ConfigError(
        `SLACK_TOKEN_ENCRYPTION_KEY entry #${i + 1}: the key id must be 1-32 letters, digits, '_' or '-'`,
      );
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64))
      throw new ConfigError(`SLACK_TOKEN_ENCRYPTION_KEY key ${JSON.stringify(id)} is not base64`);
    const key = Buffer.from(b64.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (key.length !== 32)
      throw new ConfigError(
        `SLACK_TOKEN_ENCRYPTION_KEY key ${JSON.stringify(id)} must decode to 32 bytes, got ${key.length}`,
      );
    if (keys.some((k) => k.id === id))
      throw new ConfigError(`SLACK_TOKEN_ENCRYPTION_KEY key id ${JSON.stringify(id)} appears twice`);
    keys.push({ id, key });
  });
  return keys;
}

/**
 * Wraps any {@link InstallationStore} so that every access and refresh token (`botToken`,
 * `botRefreshToken`, `userToken`, `userRefreshToken`) is stored encrypted and decrypted only when read.
 * Plaintext values already stored are read as they are (turn encryption on for an existing store, then run
 * {@link rekey}). A value that cannot be decrypted is an {@link EncryptionError} naming the key id.
 *
 * `updateTokens` stays a compare-and-set: the expectation is checked against the decrypted stored values,
 * then the write goes through with the stored ciphertexts as the inner store's expectation, so a
 * concurrent change in between still fails it.
 *
 * @example
 * ```ts
 * const store = new EncryptedInstallationStore(new MemoryInstallationStore(), { keys: [{ id: "k1", key }] });
 * await store.save(installation); // tokens at rest: "enc:v1:k1:…"
 * ```
 */
export class EncryptedInstallationStore implements InstallationStore {
  /** The store holding ciphertexts. */
  readonly inner: InstallationStore;
  readonly cipher: TokenCipher;
  /** The wrapped store's encryption marker (`undefined` when it keeps none, e.g. memory or a custom store). */
  readonly #marker: EncryptionMarker | undefined;
  #opening: Promise<void> | undefined;
  #opened = false;
  /** The current key id is in the marker (recorded, or found, by this instance). */
  #marked = false;

  constructor(inner: InstallationStore, options: EncryptionOptions) {
    requireStore(inner, "EncryptedInstallationStore");
    if (options === null || typeof options !== "object")
      throw new ConfigError("EncryptedInstallationStore: options { keys } are required");
    this.inner = inner;
    this.cipher = new TokenCipher(options.keys);
    this.#marker = inner.encryptionMarker;
    // From here on the wrapped store hands its ciphertexts to this wrapper instead of refusing them.
    this.#marker?.attach();
  }

  /** The wrapped store's app partition. */
  get clientId(): string {
    return partitionOf(this.inner);
  }

  /** Lists the wrapped store's workspaces with every token decrypted. */
  async listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    if (!this.#opened) await this.open();
    const list = await this.inner.listWorkspaces(filter);
    return list.map((w) => {
      const out: WorkspaceInstallations = { ...w, installations: w.installations.map((i) => this.#open(i)) };
      if (w.bot) out.bot = this.#open(w.bot);
      return out;
    });
  }

  /**
   * The wrapped store's health write: health fields are not secret and pass as they are; an expectation
   * is checked against the decrypted stored token, and the write then expects the stored ciphertext (so
   * a refresh in between still fails it).
   */
  async recordHealth(q: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    const { q: nq, kind } = checkHealthWrite(q, health, expect);
    if (!this.#opened) await this.open();
    if (expect === undefined || Object.values(expect).every((v) => v === undefined))
      return this.inner.recordHealth(q, health);
    const record = kind === "bot" ? await this.inner.findBot(nq) : await this.inner.findInstallation(nq);
    if (record === undefined || (kind === "user" && (record as Installation).userId !== nq.userId)) return false;
    const innerExpect: TokenExpectation = {};
    for (const f of ENCRYPTED_FIELDS) {
      const expected = expect[f];
      if (expected === undefined) continue;
      const stored = (record as Partial<Record<TokenField, string>>)[f];
      if (stored === undefined || !sameToken(this.cipher.decrypt(stored, record as TokenOwnerIds, f), expected))
        return false;
      innerExpect[f] = stored;
    }
    return this.inner.recordHealth(q, health, innerExpect);
  }

  /** The wrapped store's health records (they hold no secret). */
  async listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    if (!this.#opened) await this.open();
    return this.inner.listHealth(filter);
  }

  /** The wrapped store's expiry index (ids and times only). */
  async listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    if (!this.#opened) await this.open();
    return this.inner.listExpiringTokens(untilSeconds, limit);
  }

  /** The wrapped store's lock (tokens are not involved). */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.inner.withLock(key, fn, options);
  }

  /**
   * Checks the wrapped store's encryption marker against the keys (also done by the first call): every
   * key id the store has used must be configured, and be the same key. Rejects with
   * {@link EncryptionError} naming the key id: `unknown-key` (an id the keys lack) or `decrypt-failed`
   * (a different key under that id). The server runs it at start and stops on a rejection.
   *
   * @example
   * ```ts
   * await new EncryptedInstallationStore(inner, { keys }).open();
   * ```
   */
  async open(): Promise<void> {
    this.#opening ??= this.#verify().catch((e) => {
      this.#opening = undefined;
      throw e;
    });
    await this.#opening;
    this.#opened = true;
  }

  async #verify(): Promise<void> {
    if (this.#marker === undefined) return;
    const entries = await this.#marker.read();
    for (const [keyId, check] of entries) {
      if (!this.cipher.hasKey(keyId)) {
        throw new EncryptionError(
          "unknown-key",
          `encryption: the store holds tokens encrypted with key ${JSON.stringify(keyId)}, which SLACK_TOKEN_ENCRYPTION_KEY (the configured keys) lacks: add it back (after the new key) until \`rekey\` has run`,
          { keyId },
        );
      }
      if (!this.cipher.checksMarker(keyId, check)) {
        throw new EncryptionError(
          "decrypt-failed",
          `encryption: key ${JSON.stringify(keyId)} of SLACK_TOKEN_ENCRYPTION_KEY is not the key the store's tokens were encrypted with under that id (wrong key)`,
          { keyId },
        );
      }
    }
    if (entries.has(this.cipher.currentKeyId)) this.#marked = true;
  }

  /** Before an encrypted write: the marker names the current key (written once per process). */
  async #mark(): Promise<void> {
    if (!this.#opened) await this.open();
    if (this.#marked || this.#marker === undefined) return;
    await this.#marker.record(this.cipher.currentKeyId, this.cipher.markerCheck());
    this.#marked = true;
  }

  async save(installation: Installation): Promise<void> {
    const sealed = this.#seal(installation);
    const fields = sealed !== null && typeof sealed === "object" ? (sealed as unknown as Record<string, unknown>) : {};
    if (ENCRYPTED_FIELDS.some((f) => isEncryptedValue(fields[f]))) {
      await this.#mark();
    } else if (!this.#opened) await this.open();
    await this.inner.save(sealed);
  }

  async findBot(q: BotQuery): Promise<Bot | undefined> {
    if (!this.#opened) await this.open();
    const bot = await this.inner.findBot(q);
    return bot === undefined ? undefined : this.#open(bot);
  }

  async findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    if (!this.#opened) await this.open();
    const i = await this.inner.findInstallation(q);
    return i === undefined ? undefined : this.#open(i);
  }

  async deleteBot(q: WorkspaceQuery): Promise<void> {
    if (!this.#opened) await this.open();
    return this.inner.deleteBot(q);
  }
  async deleteInstallation(q: DeleteInstallationQuery): Promise<void> {
    if (!this.#opened) await this.open();
    return this.inner.deleteInstallation(q);
  }
  async deleteAll(q: WorkspaceQuery): Promise<void> {
    if (!this.#opened) await this.open();
    return this.inner.deleteAll(q);
  }
  /** Passes through: team ids are not secrets. */
  async updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    if (!this.#opened) await this.open();
    return this.inner.updateTeamAccess(enterpriseId, change);
  }
  /** Passes through: team ids are not secrets. */
  async findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    if (!this.#opened) await this.open();
    return this.inner.findTeamAccess(enterpriseId);
  }

  /** Records the current key in the wrapped store's marker (used by {@link rekey} before it writes). */
  async markEncrypted(): Promise<void> {
    await this.#mark();
  }

  /**
   * Drops every key id but the current one from the marker (used by {@link rekey} once nothing else is
   * used). Keeps them, and returns false, when the wrapped store keeps a history it cannot re-encrypt
   * (memory and file stores with `historicalData`): those older records still need the older keys.
   */
  async forgetOldKeys(): Promise<boolean> {
    if (this.#marker === undefined) return true;
    if (historyStuck(this.inner)) return false;
    const old = [...(await this.#marker.read()).keys()].filter((id) => id !== this.cipher.currentKeyId);
    if (old.length > 0) await this.#marker.forget(old);
    return true;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** A copy of `installation` with its token fields encrypted (non-strings left for the store to reject). */
  #seal(installation: Installation): Installation {
    if (installation === null || typeof installation !== "object") return installation;
    const out = { ...installation } as Record<string, unknown>;
    for (const f of ENCRYPTED_FIELDS) {
      const v = out[f];
      if (typeof v === "string" && v.length > 0) out[f] = this.cipher.encrypt(v, installation, f);
    }
    return out as unknown as Installation;
  }

  /** A copy of a stored record with its token fields decrypted. */
  #open<T extends Bot | Installation>(record: T): T {
    const out = { ...record } as Record<string, unknown>;
    for (const f of ENCRYPTED_FIELDS) {
      const v = out[f];
      if (typeof v === "string") out[f] = this.cipher.decrypt(v, record as TokenOwnerIds, f);
    }
    return out as T;
  }

  /**
   * The wrapped store's compare-and-set, with the patch encrypted and the expectation checked against the
   * decrypted stored values (the write then expects the stored ciphertexts).
   */
  async updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    const { q } = checkTokenUpdate(query, patch, expect);
    if (ENCRYPTED_FIELDS.some((f) => typeof patch[f] === "string")) await this.#mark();
    else if (!this.#opened) await this.open();
    // Only token fields need their record: to encrypt the patch and to check the expectation.
    const touches = (fields: readonly TokenField[]) =>
      fields.some((f) => patch[f] !== undefined || expect?.[f] !== undefined);
    const needsBot = touches(BOT_FIELDS);
    const needsUser = touches(USER_FIELDS);
    // The stored records give each token its owner (enterprise, team, user) and the stored ciphertexts.
    const [bot, own] = await Promise.all([
      needsBot ? this.inner.findBot(q) : undefined,
      needsUser ? this.inner.findInstallation({ ...q, userId: q.userId }) : undefined,
    ]);
    if (needsBot && bot === undefined) return false;
    if (needsUser && (own === undefined || own.userId !== q.userId)) return false;
    const sealed: TokenPatch = { ...patch };
    const innerExpect: TokenExpectation = {};
    for (const f of ENCRYPTED_FIELDS) {
      const record = (f.startsWith("bot") ? bot : own) as (Bot | Installation | undefined) & TokenOwnerIds;
      if (record === undefined) continue;
      const stored = (record as Partial<Record<TokenField, string>>)[f];
      const expected = expect?.[f];
      if (expected !== undefined) {
        if (stored === undefined || !sameToken(this.cipher.decrypt(stored, record, f), expected)) return false;
        innerExpect[f] = stored;
      }
      const value = patch[f];
      if (value !== undefined) sealed[f] = this.cipher.encrypt(value, record, f);
    }
    return this.inner.updateTokens(q, sealed, expect === undefined ? undefined : innerExpect);
  }
}

/** `SqlInstallationStore.rewriteStoredTokens`, as `rekey` calls it (described here: no import of the SQL core). */
type SqlRewrite = (
  rewrite: (value: string, owner: TokenOwnerIds, field: TokenField) => string | undefined,
) => Promise<{ updated: number; conflicts: number }>;

/**
 * Counts reported by {@link rekey}.
 *
 * @example
 * ```ts
 * const progress: RekeyProgress = { workspaces: 3, updated: 5, skipped: 2, conflicts: 0 };
 * ```
 */
export interface RekeyProgress {
  /** Workspaces (and orgs) looked at so far. */
  workspaces: number;
  /** Records (bots, user installations) re-encrypted. */
  updated: number;
  /** Records already entirely under the newest key (or without tokens). */
  skipped: number;
  /** Records changed by someone else meanwhile (not written; run `rekey` again). */
  conflicts: number;
  /**
   * Set when the older key ids stay in the store's marker because the store keeps a history that `rekey`
   * cannot re-encrypt (memory and file stores with `historicalData`): keep the older keys configured.
   */
  keptOldKeys?: "history" | undefined;
}

/** A store that keeps history and cannot rewrite it (SQL stores can: `rewriteStoredTokens`). */
function historyStuck(inner: InstallationStore): boolean {
  const s = inner as { historicalData?: unknown; rewriteStoredTokens?: unknown };
  return s.historicalData === true && typeof s.rewriteStoredTokens !== "function";
}

/**
 * Re-encrypts every stored token to the store's newest key (the first of `keys`), plaintext values
 * included: the latest bot of every workspace and the latest installation of every user, as
 * `listWorkspaces` lists them, through a compare-and-set `updateTokens` (a token rotated meanwhile is
 * never overwritten). Idempotent and resumable: values already under the newest key are skipped.
 * History (`historicalData: true`) is re-encrypted too on the SQL stores (every row, by
 * `rewriteStoredTokens`, after a complete pass); memory and file stores cannot, and then keep the older
 * key ids in the marker (`keptOldKeys: "history"`).
 *
 * @example
 * ```ts
 * const store = new EncryptedInstallationStore(inner, { keys: [newKey, oldKey] });
 * const counts = await rekey(store, { onProgress: (p) => console.log(p) });
 * ```
 */
export async function rekey(
  store: EncryptedInstallationStore,
  options: {
    onProgress?: ((progress: RekeyProgress) => void) | undefined;
    filter?: WorkspaceQuery | undefined;
    /**
     * After a complete pass (no filter, no conflict), drop the older key ids from the store's encryption
     * marker. The marker is shared by every app partition of a database or directory: pass `false` when
     * other partitions remain to be re-keyed, and call `store.forgetOldKeys()` once they all are.
     *
     * @default true
     */
    forgetOldKeys?: boolean | undefined;
  } = {},
): Promise<RekeyProgress> {
  if (!(store instanceof EncryptedInstallationStore))
    throw new ConfigError("rekey: expected an EncryptedInstallationStore");
  const inner = store.inner;
  const cipher = store.cipher;
  // Recorded before the first write: from now on the store refuses to be opened without a key.
  await store.markEncrypted();
  const progress: RekeyProgress = { workspaces: 0, updated: 0, skipped: 0, conflicts: 0 };
  const redo = async (
    record: (Bot | Installation) & TokenOwnerIds,
    fields: readonly TokenField[],
    q: InstallationQuery,
  ): Promise<void> => {
    const patch: TokenPatch = {};
    const expect: TokenExpectation = {};
    for (const f of fields) {
      const stored = (record as Partial<Record<TokenField, string>>)[f];
      if (typeof stored !== "string" || stored.length === 0 || cipher.isCurrent(stored)) continue;
      patch[f] = cipher.encrypt(cipher.decrypt(stored, record, f), record, f);
      expect[f] = stored;
    }
    if (Object.keys(patch).length === 0) {
      progress.skipped++;
      return;
    }
    if (await inner.updateTokens(q, patch, expect)) progress.updated++;
    else progress.conflicts++;
  };
  const list = await inner.listWorkspaces(options.filter);
  for (const w of list) {
    const where: InstallationQuery = {
      ...(w.enterpriseId ? { enterpriseId: w.enterpriseId } : {}),
      ...(w.teamId ? { teamId: w.teamId } : {}),
      ...(w.isEnterpriseInstall ? { isEnterpriseInstall: true } : {}),
    };
    if (w.bot) await redo(w.bot, BOT_FIELDS, where);
    for (const i of w.installations) await redo(i, USER_FIELDS, { ...where, userId: i.userId });
    progress.workspaces++;
    options.onProgress?.({ ...progress });
  }
  // History rows (and every other row) of a SQL store: each value not under the newest key, re-encrypted
  // by a compare-and-set on its row. Counted with the latest records.
  const rewrite = (inner as { rewriteStoredTokens?: unknown }).rewriteStoredTokens;
  if (options.filter === undefined && typeof rewrite === "function") {
    const counts = await (rewrite as SqlRewrite).call(inner, (value, owner, field) =>
      cipher.isCurrent(value) ? undefined : cipher.encrypt(cipher.decrypt(value, owner, field), owner, field),
    );
    progress.updated += counts.updated;
    progress.conflicts += counts.conflicts;
  }
  if (historyStuck(inner)) progress.keptOldKeys = "history";
  // Every record is now under the newest key: older key ids leave the marker, so a restart with only the
  // newest key opens the store. Not after a filtered or conflicted pass (other records may remain).
  if (options.filter === undefined && progress.conflicts === 0 && options.forgetOldKeys !== false)
    await store.forgetOldKeys();
  return progress;
}
