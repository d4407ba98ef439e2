/**
 * The persistent encryption marker: a store that has ever held an encrypted token records it (one entry per
 * key id, each with a check value only that key opens), so that encryption can never turn itself off.
 * Opened without the keys, such a store refuses every call instead of handing out ciphertexts as tokens or
 * writing plaintext next to them. Backends keep the entries where their data lives (a `meta` table for the
 * SQL stores, a `.encryption-keys/` folder for the file store); wrappers pass `encryptionMarker` through.
 */
import { EncryptionError } from "../errors.js";

/**
 * The marker API of a store (`InstallationStore.encryptionMarker`), used by `EncryptedInstallationStore`.
 *
 * @example
 * ```ts
 * const ids = [...(await store.encryptionMarker?.read())?.keys() ?? []]; // ["k1"] once a token was encrypted
 * ```
 */
export interface EncryptionMarker {
  /** Key id → check value. Empty when the store never held an encrypted token. */
  read(): Promise<Map<string, string>>;
  /** Records a key id with its check value; an existing entry for that id is kept. Safe from several processes. */
  record(keyId: string, check: string): Promise<void>;
  /** Removes the entries of these key ids (`rekey`, once no record uses them any more). */
  forget(keyIds: readonly string[]): Promise<void>;
  /** An `EncryptedInstallationStore` holding the keys is in front of the store: ciphertexts are expected. */
  attach(): void;
}

/** Where a backend keeps the entries. */
export interface MarkerBackend {
  /** Makes the store ready (migrated, opened) before a marker call from outside; not called by `load()`. */
  open?(): Promise<void>;
  list(): Promise<Map<string, string>>;
  put(keyId: string, check: string): Promise<void>;
  remove(keyId: string): Promise<void>;
}

const TOKEN_FIELDS = ["botToken", "botRefreshToken", "userToken", "userRefreshToken"] as const;

/** The error of a store opened without its keys (names the variable to set, never a value). */
export function keyMissingError(storeName: string, keyIds: readonly string[]): EncryptionError {
  const ids =
    keyIds.length > 0
      ? ` (key id${keyIds.length > 1 ? "s" : ""} ${keyIds.map((k) => JSON.stringify(k)).join(", ")})`
      : "";
  return new EncryptionError(
    "key-missing",
    `${storeName} holds tokens encrypted at rest${ids} but was opened without an encryption key: set SLACK_TOKEN_ENCRYPTION_KEY (or wrap the store in EncryptedInstallationStore with its keys). Nothing was read or written.`,
    { keyId: keyIds[0] },
  );
}

/**
 * What a backend composes to honour the marker: the marker API itself, and the checks a store runs when no
 * `EncryptedInstallationStore` is attached (the store's own users then get {@link keyMissingError}).
 *
 * @example
 * ```ts
 * const guard = new EncryptionGuard("FileInstallationStore", backend);
 * await guard.load(); // when the store opens
 * guard.check(); // before each call
 * ```
 */
export class EncryptionGuard {
  readonly marker: EncryptionMarker;
  #attached = false;
  #ids: string[] = [];

  constructor(
    readonly storeName: string,
    backend: MarkerBackend,
  ) {
    this.marker = {
      read: async () => {
        await backend.open?.();
        return backend.list();
      },
      record: async (keyId, check) => {
        await backend.open?.();
        await backend.put(keyId, check);
        if (!this.#ids.includes(keyId)) this.#ids.push(keyId);
      },
      forget: async (keyIds) => {
        await backend.open?.();
        for (const id of keyIds) await backend.remove(id);
        this.#ids = this.#ids.filter((id) => !keyIds.includes(id));
      },
      attach: () => {
        this.#attached = true;
      },
    };
    this.#load = async () => {
      this.#ids = [...(await backend.list()).keys()];
    };
  }

  readonly #load: () => Promise<void>;

  /** Reads the marker (when the store opens). */
  load(): Promise<void> {
    return this.#load();
  }

  /** True once an `EncryptedInstallationStore` is attached. */
  get attached(): boolean {
    return this.#attached;
  }

  /** Throws {@link keyMissingError} when the marker is set and no encryption wrapper is attached. */
  check(): void {
    if (!this.#attached && this.#ids.length > 0) throw keyMissingError(this.storeName, this.#ids);
  }

  /** Before a write without a wrapper: reads the marker again (another process may have encrypted since). */
  async checkWrite(): Promise<void> {
    if (this.#attached) return;
    await this.#load();
    this.check();
  }

  /** A record read without a wrapper must not hold a ciphertext (one written before markers existed). */
  checkRecord<T>(record: T): T {
    if (this.#attached || record === undefined || record === null) return record;
    const r = record as Record<string, unknown>;
    for (const f of TOKEN_FIELDS) {
      const v = r[f];
      if (typeof v === "string" && v.startsWith("enc:")) throw keyMissingError(this.storeName, []);
    }
    return record;
  }
}
