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
    const known = new Set([...before.granted, ...before.revoked]);
    const revoked = [...known].filter((t) => !allowed.has(t)).sort();
    const wasRevoked = new Set(before.revoked);
    result.allowed = [...allowed].sort();
    result.revoked = revoked;
    result.newlyRevoked = revoked.filter((t) => !wasRevoked.has(t));
    result.newlyGranted = result.allowed.filter((t) => wasRevoked.has(t));
    await store.updateTeamAccess(enterpriseId, { granted: result.allowed, revoked });
  }
  return out;
}
