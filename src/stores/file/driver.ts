/**
 * The file system driver of the file stores: small-file reads (async, or sync for `syncReads`), atomic
 * writes (temp file in the same directory, fsync, rename), and the checks both stores share.
 *
 * @internal
 */
import { createHash, randomBytes } from "node:crypto";
import { close as closeCb, closeSync, open as openCb, openSync, read as readCb, readSync } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { ConfigError, StoreError } from "../../errors.js";
import type { Installation } from "../../model/installation.js";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export function errCode(e: unknown): string | undefined {
  return e !== null && typeof e === "object" && "code" in e ? String((e as { code: unknown }).code) : undefined;
}
export const isMissing = (e: unknown) => {
  const c = errCode(e);
  return c === "ENOENT" || c === "ENOTDIR";
};

// Below Buffer.poolSize / 2, so allocUnsafe slices the shared pool; our records are well under 4 KB.
export const READ_CHUNK = 4095;
export const noop = () => {};

/**
 * Reads a small file: `open` then `read` on libuv's pool, `close` not awaited (two pool round trips where
 * `fs.promises.readFile` takes four: ~35 µs instead of ~65 µs per lookup). A short read means end of file:
 * our files are regular files, replaced by rename and never written in place.
 */
export function readText(path: string): Promise<string | undefined> {
  return new Promise((res, rej) => {
    openCb(path, "r", (err, fd) => {
      if (err)
        return isMissing(err) ? res(undefined) : rej(new StoreError(`file store: cannot read ${path}`, { cause: err }));
      const chunks: Buffer[] = [];
      const next = (position: number) => {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        readCb(fd, buf, 0, READ_CHUNK, position, (e, n) => {
          if (e) {
            closeCb(fd, noop);
            return rej(new StoreError(`file store: cannot read ${path}`, { cause: e }));
          }
          chunks.push(n === READ_CHUNK ? buf : buf.subarray(0, n));
          if (n === READ_CHUNK) return next(position + n);
          closeCb(fd, noop);
          res(chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8"));
        });
      };
      next(0);
    });
  });
}

/** The same read, synchronously (see `syncReads`). */
export function readTextSync(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw new StoreError(`file store: cannot read ${path}`, { cause: e });
  }
  try {
    const chunks: Buffer[] = [];
    for (let position = 0; ; ) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const n = readSync(fd, buf, 0, READ_CHUNK, position);
      chunks.push(n === READ_CHUNK ? buf : buf.subarray(0, n));
      if (n < READ_CHUNK) break;
      position += n;
    }
    return chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8");
  } catch (e) {
    throw new StoreError(`file store: cannot read ${path}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

export function parseJson(text: string | undefined, path: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new StoreError(`file store: ${path} is not valid JSON`, { cause });
  }
}

export async function readJson(path: string): Promise<unknown> {
  return parseJson(await readText(path), path);
}

/** This host, in temp file names: a sweep only judges the writers of its own host by their pid. */
export const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
/** `.tmp-<host>-<pid>-<random>`: the writer's host and pid tell a crashed writer's leftovers from live ones. */
export const tmpName = () => `.tmp-${HOST_TAG}-${process.pid}-${randomBytes(8).toString("hex")}`;
export const TMP_RE = /^\.tmp-([0-9a-f]{8})-(\d+)-[0-9a-f]+$/;
/** A temp file this old is a leftover whoever wrote it (other hosts, older names): a write takes milliseconds. */
export const ORPHAN_TMP_MS = 10 * 60 * 1000;

export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === "EPERM"; // alive, owned by someone else
  }
}

/** True when `name` in a store directory is a temp file left by a writer that is gone. */
export async function isOrphanTemp(path: string, name: string): Promise<boolean> {
  if (!name.startsWith(".tmp-")) return false;
  const m = TMP_RE.exec(name);
  if (m && m[1] === HOST_TAG && !processAlive(Number(m[2]))) return true;
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > ORPHAN_TMP_MS;
}

/** fsync of a directory: makes the renames done in it durable (a power cut cannot bring the old file back). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `content` to `dir/name` atomically: a temp file in the same directory (same file system), fsync,
 * rename over the target, fsync of the directory. Readers see the old file or the new one, never a part.
 */
export async function writeAtomic(dir: string, name: string, content: string): Promise<void> {
  const tmp = `${dir}/${tmpName()}`;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(tmp, "wx", FILE_MODE);
  } catch (e) {
    if (!isMissing(e)) throw new StoreError(`file store: cannot write in ${dir}`, { cause: e });
    // The directory was removed under us (a concurrent deleteAll): recreate it once.
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    fh = await open(tmp, "wx", FILE_MODE);
  }
  try {
    try {
      await fh.writeFile(content, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, `${dir}/${name}`);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new StoreError(`file store: cannot write ${dir}/${name}`, { cause: e });
  }
  try {
    await syncDir(dir);
  } catch (e) {
    throw new StoreError(`file store: cannot sync ${dir} after writing ${name}`, { cause: e });
  }
}

/** An installation without the bot's secrets (they are read from the latest bot file). */
export function withoutBotSecrets(i: Installation): Installation {
  const { botToken: _t, botRefreshToken: _r, ...rest } = i;
  return rest as Installation;
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (!isMissing(e)) throw new StoreError(`file store: cannot delete ${path}`, { cause: e });
  }
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw new StoreError(`file store: cannot list ${dir}`, { cause: e });
  }
}

export function requireBaseDir(baseDir: unknown, cls: string): string {
  if (typeof baseDir !== "string" || baseDir.length === 0)
    throw new ConfigError(`${cls}: baseDir must be a non-empty directory path`);
  return resolve(baseDir);
}
