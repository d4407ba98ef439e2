/**
 * The store rules of the backends that are not SQL, written once: the memory and file stores keep, per
 * workspace (or org), the latest bot, each user's latest installation and the workspace's latest one, each
 * with the save sequence that defines "latest", and build every operation on these rules. (The SQL core
 * keeps the same rules in its queries.)
 *
 * @internal
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Installation } from "../model/installation.js";
import { type ExpiringToken, place } from "./health.js";
import {
  assertOptionalId,
  matchesWorkspaceFilter,
  type TokenExpectation,
  type TokenPatch,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "./installation-store.js";
import { type BotFields, overlayLatestBot } from "./store-helpers.js";

/** A saved installation with its save sequence (the order that defines "latest"). */
export interface SeqInstallation {
  seq: number;
  installation: Installation;
}

/** The stored token fields a compare-and-set looks at. */
interface BotTokens {
  botToken?: string | undefined;
  botRefreshToken?: string | undefined;
}

/**
 * Which parts a token update reads: the bot when the patch or the expectation names a bot field, the
 * user's installation when they name a user field.
 */
export function tokenParts(
  bot: TokenPatch | undefined,
  user: TokenPatch | undefined,
  expect: TokenExpectation | undefined,
): { checkBot: boolean; checkUser: boolean } {
  return {
    checkBot: bot !== undefined || expect?.botToken !== undefined || expect?.botRefreshToken !== undefined,
    checkUser: user !== undefined || expect?.userToken !== undefined || expect?.userRefreshToken !== undefined,
  };
}

/**
 * Whether a stored token equals the expected one, in constant time (both hashed first, so neither the
 * position of a difference nor the lengths show in the timing). `undefined` stored never matches.
 */
export function sameToken(stored: string | undefined, expected: string): boolean {
  if (stored === undefined) return false;
  const a = createHash("sha256").update(stored, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

/**
 * The compare of a compare-and-set: true when every part that is checked exists and holds every expected
 * value. Nothing may be written otherwise (both parts, or neither). Tokens are compared in constant time.
 */
export function expectationsHold(
  parts: { checkBot: boolean; checkUser: boolean },
  bot: BotTokens | undefined,
  user: Installation | undefined,
  expect: TokenExpectation | undefined,
): boolean {
  if (parts.checkBot) {
    if (bot === undefined) return false;
    if (expect?.botToken !== undefined && !sameToken(bot.botToken, expect.botToken)) return false;
    if (expect?.botRefreshToken !== undefined && !sameToken(bot.botRefreshToken, expect.botRefreshToken)) return false;
  }
  if (parts.checkUser) {
    if (user === undefined) return false;
    if (expect?.userToken !== undefined && !sameToken(user.userToken, expect.userToken)) return false;
    if (expect?.userRefreshToken !== undefined && !sameToken(user.userRefreshToken, expect.userRefreshToken))
      return false;
  }
  return true;
}

/** Validates a `listWorkspaces` filter (ids only; absent fields match everything). */
export function checkListFilter(filter: WorkspaceQuery | undefined): void {
  if (filter === undefined) return;
  assertOptionalId(filter.enterpriseId, "enterpriseId");
  assertOptionalId(filter.teamId, "teamId");
}

/**
 * The listing entry of one workspace key (`teamId` undefined: org-wide), or `undefined` when the filter
 * leaves it out. Fill it with {@link completeWorkspace}.
 */
export function workspaceHead(
  enterpriseId: string | undefined,
  teamId: string | undefined,
  filter: WorkspaceQuery | undefined,
): WorkspaceInstallations | undefined {
  const head: WorkspaceInstallations = { isEnterpriseInstall: teamId === undefined, installations: [] };
  if (enterpriseId !== undefined) head.enterpriseId = enterpriseId;
  if (teamId !== undefined) head.teamId = teamId;
  return matchesWorkspaceFilter(head, filter) ? head : undefined;
}

/**
 * Completes a listing entry: the latest bot, and each user's latest installation newest first with the
 * bot fields of the latest bot (`users` are the caller's own copies). `undefined` when the workspace holds
 * nothing (no bot, no installation).
 */
export function completeWorkspace(
  head: WorkspaceInstallations,
  bot: (WorkspaceInstallations["bot"] & BotFields) | undefined,
  users: SeqInstallation[],
): WorkspaceInstallations | undefined {
  if (bot !== undefined) head.bot = bot;
  head.installations = users.sort((a, b) => b.seq - a.seq).map((r) => overlayLatestBot(r.installation, bot));
  return head.bot === undefined && head.installations.length === 0 ? undefined : head;
}

/** The record with the largest save sequence (the latest), or `undefined` for none. */
export function latestRecord<R extends { seq: number }>(records: Iterable<R>): R | undefined {
  let latest: R | undefined;
  for (const r of records) if (latest === undefined || r.seq > latest.seq) latest = r;
  return latest;
}

/** One entry of an {@link ExpiryIndex}. */
interface ExpiryEntry {
  key: string;
  token: ExpiringToken;
}

function entryBefore(a: ExpiryEntry, at: number, key: string): boolean {
  return a.token.expiresAt < at || (a.token.expiresAt === at && a.key < key);
}

/**
 * An in-memory expiry index: rotating tokens sorted by expiry (then key), so the tokens due by a time
 * are the first entries, found by walking from the start. Set and delete are a binary search and one
 * array splice. The memory store keeps one; the file store's index lives on disk.
 */
export class ExpiryIndex {
  readonly #byKey = new Map<string, ExpiryEntry>();
  readonly #sorted: ExpiryEntry[] = [];

  /** Entries held. */
  get size(): number {
    return this.#sorted.length;
  }

  /** Sets (or, with `expiresAt` undefined, removes) the entry of `key`. */
  set(key: string, token: ExpiringToken | undefined): void {
    this.delete(key);
    if (token === undefined) return;
    const entry: ExpiryEntry = { key, token };
    this.#sorted.splice(this.#position(token.expiresAt, key), 0, entry);
    this.#byKey.set(key, entry);
  }

  /** Removes the entry of `key` (nothing when there is none). */
  delete(key: string): void {
    const entry = this.#byKey.get(key);
    if (entry === undefined) return;
    this.#byKey.delete(key);
    const i = this.#position(entry.token.expiresAt, key);
    if (this.#sorted[i] === entry) this.#sorted.splice(i, 1);
  }

  /** Removes every entry whose key starts with `prefix` (a workspace's). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.#byKey.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  /** Copies of the entries expiring at or before `until`, soonest first, at most `limit`. */
  until(until: number, limit: number): ExpiringToken[] {
    const out: ExpiringToken[] = [];
    for (const e of this.#sorted) {
      if (e.token.expiresAt > until || out.length >= limit) break;
      out.push({ ...e.token });
    }
    return out;
  }

  /** The first index whose entry is not before (at, key). */
  #position(at: number, key: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entryBefore(this.#sorted[mid] as ExpiryEntry, at, key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The {@link ExpiringToken} of a stored token, or `undefined` when it does not rotate (no refresh token
 * or no expiry): what the expiry indexes hold.
 */
export function expiringOf(
  kind: "bot" | "user",
  enterpriseId: string | undefined,
  teamId: string | undefined,
  userId: string | undefined,
  refreshToken: string | undefined,
  expiresAt: number | undefined,
): ExpiringToken | undefined {
  if (refreshToken === undefined || refreshToken === "" || typeof expiresAt !== "number") return undefined;
  return { ...place(kind, enterpriseId, teamId, userId), expiresAt };
}
