/**
 * Finds who a Slack request is about — enterprise, team, user, org-wide or not — in every payload shape
 * Slack sends: Events API wrappers (with `authorizations[]`), slash commands (form fields, booleans as
 * the strings "true"/"false"), interactivity payloads (`payload` JSON: block actions, view submissions,
 * shortcuts, message actions, options), shared channels and org-wide installs.
 *
 * The rules follow Slack's official Bolt framework (`buildSource` in `@slack/bolt`), so an app moving
 * between the two finds the same installation for the same request.
 */

/**
 * Who a Slack request is about: the input of `authorize`.
 *
 * @example
 * ```ts
 * const context: AuthorizeContext = { enterpriseId: "E0123", teamId: "T0123", userId: "W0123", isEnterpriseInstall: false };
 * ```
 */
export interface AuthorizeContext {
  enterpriseId?: string | undefined;
  /** The workspace the request came from (for org-wide installs, any workspace of the org). */
  teamId?: string | undefined;
  /** The user who acted (typed the command, clicked, caused the event); absent for app-level events. */
  userId?: string | undefined;
  /** True when the app is installed org-wide on an Enterprise Grid org: lookups go by `enterpriseId` alone. */
  isEnterpriseInstall: boolean;
  /**
   * The acting user's own workspace, when the payload names one other than the request's
   * (`event.user_team`, `event.team`, `user.team_id`): in a Slack Connect channel, another
   * organisation's workspace. Read by `authorize` with `userTokenResolution: "actor"`.
   */
  actorTeamId?: string | undefined;
  /** The acting user's own org, when the payload names it (an `E…` `event.user_team`). */
  actorEnterpriseId?: string | undefined;
}

/**
 * Every top-level field {@link extractContext} reads. A reader that has only these fields of a body (as
 * the events handler has of a slash command before anyone asks for the rest) gets the same context.
 */
export const CONTEXT_FIELDS: readonly string[] = Object.freeze([
  "team_id",
  "user_id",
  "enterprise_id",
  "is_enterprise_install",
  "type",
  "command",
  "authorizations",
  "event",
  "team",
  "user",
  "enterprise",
  "view",
]);

type J = Record<string, unknown>;
const obj = (v: unknown): J | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as J) : undefined;
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
/** Slash commands send "true"/"false" strings; every other payload sends JSON booleans. */
const bool = (v: unknown): boolean => v === true || v === "true";

/**
 * Extracts the {@link AuthorizeContext} of a parsed Slack payload: an Events API body, a slash command's
 * form fields, or an interactivity `payload` object. Never throws; unknown shapes give an empty context
 * (which `authorize` answers with `NotInstalledError`).
 *
 * - Events API: `authorizations[0]` names the installation the delivery is for, so it wins over the
 *   wrapper's `team_id` (in a shared channel that is the other workspace's id). For an org-wide install
 *   its `team_id` is `null` and the wrapper's `team_id` is used. The user is the one who acted
 *   (`event.user`), never the installation's user in `authorizations[]`.
 * - Slash commands: `team_id`, `enterprise_id`, `user_id`, `is_enterprise_install` ("true"/"false").
 * - Interactivity: `team.id` (null for some org-wide payloads: then `user.team_id`), `enterprise.id`
 *   (or `team.enterprise_id`), `user.id`, `is_enterprise_install` (boolean).
 *
 * @example
 * ```ts
 * extractContext({ team_id: "T1", user_id: "U1", is_enterprise_install: "false", command: "/open-modal" });
 * // { teamId: "T1", userId: "U1", isEnterpriseInstall: false }
 * ```
 * @see https://docs.slack.dev/apis/events-api/#callback-field
 * @see https://docs.slack.dev/interactivity/handling-user-interaction
 */
export function extractContext(body: Record<string, unknown>): AuthorizeContext {
  if (obj(body) === undefined) return { isEnterpriseInstall: false };
  if (isEventsApiBody(body)) return fromEvent(body);
  if (isInteractivityPayload(body)) return fromInteraction(body);
  // Slash commands (form fields) and anything else flat.
  return compact(str(body.enterprise_id), str(body.team_id), str(body.user_id), bool(body.is_enterprise_install));
}

function isEventsApiBody(body: J): boolean {
  return body.type === "event_callback" || body.type === "app_rate_limited" || Array.isArray(body.authorizations);
}

function isInteractivityPayload(body: J): boolean {
  // Commands carry string `team_id`/`user_id` fields and no `type`; interactivity payloads carry a `type`
  // and `team`/`user` objects (`team` is null in some org-wide payloads).
  return (
    typeof body.type === "string" &&
    typeof body.command !== "string" &&
    (obj(body.team) !== undefined || obj(body.user) !== undefined || body.team === null)
  );
}

function fromEvent(body: J): AuthorizeContext {
  const auth = Array.isArray(body.authorizations) ? obj(body.authorizations[0]) : undefined;
  const event = obj(body.event);
  const isEnterpriseInstall = bool(auth ? auth.is_enterprise_install : body.is_enterprise_install);
  const out = compact(
    str(auth?.enterprise_id) ?? str(body.enterprise_id),
    str(auth?.team_id) ?? str(body.team_id),
    event ? eventUser(event) : undefined,
    isEnterpriseInstall,
  );
  if (event !== undefined && out.userId !== undefined) {
    // The acting user's own workspace: `user_team` in shared channels (an org id for some Grid users),
    // else the message's `team` or the profile's.
    const actor = str(event.user_team) ?? str(event.team) ?? str(obj(event.user_profile)?.team);
    // Named only when it is another workspace than the request's (Slack Connect).
    if (actor !== undefined && actor !== out.teamId && actor !== out.enterpriseId) {
      if (actor.startsWith("E")) out.actorEnterpriseId = actor;
      else out.actorTeamId = actor;
    }
  }
  return out;
}

/** The user who caused an event (no user for app_uninstalled, tokens_revoked and other app-level events). */
function eventUser(event: J): string | undefined {
  const user = event.user;
  if (typeof user === "string") return str(user);
  const userObj = obj(user);
  if (userObj) return str(userObj.id);
  // channel_created, group_*: the creator; subteam_*: who created the user group (as Bolt does).
  return str(obj(event.channel)?.creator) ?? str(obj(event.subteam)?.created_by);
}

function fromInteraction(body: J): AuthorizeContext {
  const team = obj(body.team);
  const user = obj(body.user);
  const enterprise = obj(body.enterprise);
  const out = compact(
    str(enterprise?.id) ?? str(team?.enterprise_id) ?? str(body.enterprise_id),
    // view_submission from an org-wide install can have `team: null`; the user's workspace stands in.
    str(team?.id) ?? str(user?.team_id) ?? str(obj(body.view)?.team_id) ?? str(body.team_id),
    str(user?.id) ?? str(body.user_id),
    bool(body.is_enterprise_install),
  );
  // The acting user's own workspace (another organisation's in a Slack Connect channel).
  const actorTeam = str(user?.team_id);
  if (actorTeam !== undefined && out.userId !== undefined && actorTeam !== out.teamId) out.actorTeamId = actorTeam;
  return out;
}

function compact(
  enterpriseId: string | undefined,
  teamId: string | undefined,
  userId: string | undefined,
  isEnterpriseInstall: boolean,
): AuthorizeContext {
  const out: AuthorizeContext = { isEnterpriseInstall };
  if (enterpriseId) out.enterpriseId = enterpriseId;
  if (teamId) out.teamId = teamId;
  if (userId) out.userId = userId;
  return out;
}
