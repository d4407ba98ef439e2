/**
 * Files holding tokens are private and durable: the SQLite database, its WAL and SHM files are 0600 and
 * new folders 0700; the file store removes what a crashed writer left (temp files holding tokens) when it
 * opens, and fsyncs the folder after each rename (observed through node:fs/promises).
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Installation } from "../../src/model/installation.js";

/** Every directory fsync'd through node:fs/promises (a FileHandle opened on a directory, then sync()). */
const synced: string[] = [];
/** Every rename, in order with the fsyncs: `rename:<to>` / `sync:<dir>`. */
const events: string[] = [];

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...real,
    rename: async (from: string, to: string) => {
      await real.rename(from, to);
      events.push(`rename:${to}`);
    },
    open: async (path: string, ...rest: unknown[]) => {
      const fh = await (real.open as (...a: unknown[]) => ReturnType<typeof real.open>)(path, ...rest);
      const sync = fh.sync.bind(fh);
      fh.sync = async () => {
        await sync();
        if ((await fh.stat()).isDirectory()) {
          synced.push(String(path));
          events.push(`sync:${String(path)}`);
        }
      };
      return fh;
    },
  };
});

const { FileInstallationStore } = await import("../../src/stores/file.js");
const { SQLiteInstallationStore } = await import("../../src/stores/sqlite.js");

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "sok-private-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;
const install = (teamId: string): Installation => ({
  teamId,
  userId: "U0000000001",
  botToken: `xoxb-test-${randomUUID()}`,
  botId: "B0000000001",
  botUserId: "U0000000BOT",
  botScopes: ["chat:write"],
  userScopes: [],
  isEnterpriseInstall: false,
  installedAt: 1732520000.5,
  customValues: {},
});

describe("SQLite", () => {
  it("creates the database, WAL and SHM files 0600 and missing folders 0700", async () => {
    const base = tempDir();
    const filename = join(base, "a", "b", "app.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.save(install("T0000000001"));
    for (const f of [filename, `${filename}-wal`, `${filename}-shm`]) {
      expect(existsSync(f), f).toBe(true);
      expect(mode(f).toString(8), f).toBe("600");
    }
    expect(mode(join(base, "a")).toString(8)).toBe("700");
    expect(mode(join(base, "a", "b")).toString(8)).toBe("700");
    await store.close();
  });
});

describe("file store", () => {
  const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
  /** The pid of a process that has exited. */
  const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid;

  it("removes crashed writers' temp files (they hold tokens) and half-deleted folders when it opens", async () => {
    const base = tempDir();
    const first = new FileInstallationStore({ baseDir: base });
    await first.save(install("T0000000001"));
    await first.close();
    const root = join(base, "_default");
    const ws = join(root, "_none+T0000000001");
    mkdirSync(join(ws, "history"), { recursive: true });
    mkdirSync(join(root, ".locks"), { recursive: true });
    const dead = deadPid();
    const token = `xoxb-test-${randomUUID()}`;
    const orphans = [
      join(ws, `.tmp-${HOST_TAG}-${dead}-${randomBytes(8).toString("hex")}`),
      join(ws, "history", `.tmp-${HOST_TAG}-${dead}-${randomBytes(8).toString("hex")}`),
      join(root, ".locks", `.tmp-${HOST_TAG}-${dead}-${randomBytes(8).toString("hex")}`),
      join(ws, `.tmp-${randomBytes(12).toString("hex")}`), // an older version's name, an hour old
    ];
    for (const o of orphans) writeFileSync(o, JSON.stringify({ installation: { botToken: token } }));
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(orphans[3] as string, hourAgo, hourAgo);
    // A live writer's temp file (this process) and a recent one of unknown origin stay.
    const live = join(ws, `.tmp-${HOST_TAG}-${process.pid}-${randomBytes(8).toString("hex")}`);
    const recent = join(ws, `.tmp-${randomBytes(12).toString("hex")}`);
    writeFileSync(live, "{}");
    writeFileSync(recent, "{}");
    const trash = join(root, `.deleted-${randomBytes(12).toString("hex")}`);
    mkdirSync(trash);
    writeFileSync(join(trash, "bot-latest.json"), JSON.stringify({ bot: { botToken: token } }));

    const store = new FileInstallationStore({ baseDir: base });
    await store.open();
    for (const o of orphans) expect(existsSync(o), o).toBe(false);
    expect(existsSync(trash)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(recent)).toBe(true);
    expect((await store.findBot({ teamId: "T0000000001" }))?.botId).toBe("B0000000001");
    await store.close();
  });

  it("fsyncs the folder after each rename, and new folders are 0700", async () => {
    const base = tempDir();
    const store = new FileInstallationStore({ baseDir: base });
    events.length = 0;
    synced.length = 0;
    await store.save(install("T0000000002"));
    const ws = join(base, "_default", "_none+T0000000002");
    const renames = events.filter((e) => e.startsWith("rename:"));
    expect(renames.length).toBeGreaterThanOrEqual(3);
    // Every rename into the folder is followed by an fsync of that folder before the next write.
    for (const r of renames) {
      const i = events.indexOf(r);
      expect(events[i + 1], `after ${r}`).toBe(`sync:${ws}`);
    }
    expect(mode(ws).toString(8)).toBe("700");
    expect(mode(join(base, "_default")).toString(8)).toBe("700");
    for (const f of readdirSync(ws)) expect(mode(join(ws, f)).toString(8)).toBe("600");
    await store.close();
  });
});
