/**
 * Org-wide installs and their workspaces: an org admin adds workspaces to the app or removes them, and
 * Slack says so with `team_access_granted` / `team_access_revoked` (recorded by the events handler). An
 * event can be lost; {@link reconcileTeamAccess} asks Slack (`auth.teams.list`) which workspaces each
 * org-wide token may act in and records the difference.
 */
import { SlackOAuthError } from "../errors.js";
import { redact } from "../redact.js";
import type { AuthTeamsListResponse } from "../slack-api/types.js";
import { type InstallationStore, isValidId, type WorkspaceInstallations } from "../stores/installation-store.js";

/** Each workspace of an org's access record and whether it is granted or revoked. */
function stateIn(a: { granted: readonly string[]; revoked: readonly string[] }): Map<string, "granted" | "revoked"> {
  const m = new Map<string, "granted" | "revoked">();
  for (const t of a.granted) m.set(t, "granted");
  for (const t of a.revoked) m.set(t, "revoked");
  return m;
}

/** The store lock that orders every write of an org's workspace access (events and reconciles). */
function teamAccessLockKey(enterpriseId: string): string {
  return `team-access/${enterpriseId}`;
}

/**
 * Records a `team_access_granted` / `team_access_revoked` event under the org's team-access lock
 * (`team-access/<enterpriseId>`, also taken by {@link reconcileTeamAccess}), so it never lands between a
 * reconcile's last read and its write (where the reconcile would overwrite it): it waits for that write and
 * is applied after it, as the newer fact.
 * Throws the store's `LockTimeoutError` if the lock stays taken (the event is then retried by Slack).
 *
 * @example
 * ```ts
 * await recordTeamAccess(store, "E0123", { revoked: ["T0456"] });
 * ```
 */
export async function recordTeamAccess(
  store: InstallationStore,
  enterpriseId: string,
  change: { granted?: readonly string[]; revoked?: readonly string[] },
): Promise<void> {
  await store.withLock(teamAccessLockKey(enterpriseId), () => store.updateTeamAccess(enterpriseId, change));
}

/**
 * What {@link reconcileTeamAccess} needs of a Slack client: one `auth.teams.list` page.
 *
 * @example
 * ```ts
 * const api: TeamsListApi = new SlackApiClient();
 * ```
 */
export interface TeamsListApi {
  /** One page of `auth.teams.list` for `token` (as `SlackApiClient.authTeamsList`). */
  authTeamsList(
    token: string,
    options?: { cursor?: string | undefined; limit?: number | undefined },
  ): Promise<AuthTeamsListResponse>;
}

/**
 * Options of {@link reconcileTeamAccess}.
 *
 * @example
 * ```ts
 * const options: ReconcileTeamAccessOptions = { installationStore: store, api: new SlackApiClient() };
 * ```
 */
export interface ReconcileTeamAccessOptions {
  /** The store whose org-wide installations are checked (the app's caching store, so caches follow). */
  installationStore: InstallationStore;
  /** The Slack client (`SlackApiClient`). */
  api: TeamsListApi;
  /** Only this org. */
  enterpriseId?: string | undefined;
  /**
   * Most pages of `auth.teams.list` read per org (200 workspaces a page).
   *
   * @default 50
   */
  maxPages?: number | undefined;
}

/**
 * What a reconcile found for one org-wide installation.
 *
 * @example
 * ```ts
 * const r: TeamAccessReconciliation = { enterpriseId: "E1", allowed: ["T1"], revoked: ["T2"], newlyRevoked: ["T2"], newlyGranted: [] };
 * ```
 */
export interface TeamAccessReconciliation {
  enterpriseId: string;
  /** The workspaces Slack lists for the org's token (empty when it could not be asked). */
  allowed: string[];
  /** The workspaces recorded as removed after the reconcile. */
  revoked: string[];
  /** Workspaces this run found removed (their event was lost). */
  newlyRevoked: string[];
  /** Workspaces this run found added back (their event was lost). */
  newlyGranted: string[];
  /**
   * Why the org could not be reconciled: Slack's error (`missing_scope`, `invalid_auth`, …), `no_token`
   * when the installation holds no token, or this library's error code. Nothing was changed then.
   */
  error?: string;
}

/** The token of an org-wide installation to ask Slack with: the bot's, else an installer's user token. */
function orgToken(w: WorkspaceInstallations): string | undefined {
  if (w.bot?.botToken) return w.bot.botToken;
  return w.installations.find((i) => i.userToken)?.userToken;
}

/**
 * Reconciles the recorded workspaces of every org-wide installation (or of `enterpriseId`'s) with
 * `auth.teams.list`: every listed workspace is recorded as allowed; every workspace recorded before (by
 * an event or an earlier run) and no longer listed is recorded as removed, so `authorize` answers "not
 * installed" there. A workspace never recorded and not listed stays unknown (allowed until revoked):
 * run it regularly (the health sweep does) so that every workspace is known. Orgs whose token cannot
 * list its workspaces are reported with `error` and left as they are. Tokens never appear in errors.
 * Only the changes the run observed are written, and only for workspaces whose record did not change
 * while Slack was asked: a `team_access_*` event recorded meanwhile is newer than the listing and stays.
 *
 * @example
 * ```ts
 * for (const r of await reconcileTeamAccess({ installationStore: store, api: new SlackApiClient() })) {
 *   if (r.newlyRevoked.length > 0) console.log(r.enterpriseId, "removed", r.newlyRevoked);
 * }
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.teams.list
 */
export async function reconcileTeamAccess(options: ReconcileTeamAccessOptions): Promise<TeamAccessReconciliation[]> {
  const store = options.installationStore;
  const maxPages = options.maxPages ?? 50;
  const filter = options.enterpriseId !== undefined ? { enterpriseId: options.enterpriseId } : undefined;
  const orgs = (await store.listWorkspaces(filter)).filter((w) => w.isEnterpriseInstall && isValidId(w.enterpriseId));
  const out: TeamAccessReconciliation[] = [];
  for (const org of orgs) {
    const enterpriseId = org.enterpriseId as string;
    const before = await store.findTeamAccess(enterpriseId);
    const result: TeamAccessReconciliation = {
      enterpriseId,
      allowed: [],
      revoked: [...before.revoked],
      newlyRevoked: [],
      newlyGranted: [],
    };
    out.push(result);
    const token = orgToken(org);
    if (token === undefined) {
      result.error = "no_token";
      continue;
    }
    const allowed = new Set<string>();
    try {
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await options.api.authTeamsList(token, { limit: 200, ...(cursor ? { cursor } : {}) });
        for (const t of page.teams ?? []) if (isValidId(t.id)) allowed.add(t.id);
        cursor = page.response_metadata?.next_cursor || undefined;
        pages++;
      } while (cursor !== undefined && pages < maxPages);
      if (cursor !== undefined) {
        // An incomplete list must not revoke the workspaces of the pages not read.
        result.error = "too_many_pages";
        continue;
      }
    } catch (error) {
      const slack = (error as { error?: unknown }).error;
      result.error =
        typeof slack === "string" && /^[a-z0-9_]{1,64}$/.test(slack)
          ? slack
          : error instanceof SlackOAuthError
            ? error.code
            : redact(String((error as Error)?.name ?? "error"));
      continue;
    }
    // Apply only what this run observed changing since `before`, and only for workspaces whose record is
    // still what `before` said: an event (`team_access_granted` / `_revoked`) recorded while Slack was being
    // asked is newer than the listing, so it wins. Workspaces left unchanged are not written at all. The last
    // read and the write hold the org's team-access lock, which events take too (recordTeamAccess): no
    // event lands between them.
    const then = stateIn(before);
    const { current, grant, revoke } = await store.withLock(teamAccessLockKey(enterpriseId), async () => {
      const current = await store.findTeamAccess(enterpriseId);
      const now = stateIn(current);
      const untouched = (t: string) => then.get(t) === now.get(t);
      // Listed and not recorded as allowed (unknown, or removed before): newly present.
      const grant = [...allowed].filter((t) => then.get(t) !== "granted" && untouched(t)).sort();
      // Recorded as allowed and no longer listed: newly removed.
      const revoke = before.granted.filter((t) => !allowed.has(t) && untouched(t)).sort();
      if (grant.length > 0 || revoke.length > 0)
        await store.updateTeamAccess(enterpriseId, { granted: grant, revoked: revoke });
      return { current, grant, revoke };
    });
    const granted = new Set(grant);
    result.allowed = [...allowed].sort();
    result.revoked = [...new Set([...current.revoked.filter((t) => !granted.has(t)), ...revoke])].sort();
    result.newlyRevoked = revoke;
    result.newlyGranted = grant.filter((t) => then.get(t) === "revoked");
  }
  return out;
}
