/**
 * Finds who a Slack request is about — enterprise, team, user, org-wide or not — in every payload shape
 * Slack sends: Events API wrappers (with `authorizations[]`), slash commands (form fields, booleans as
 * the strings "true"/"false"), interactivity payloads (`payload` JSON: block actions, view submissions,
 * shortcuts, options), shared channels and org-wide installs.
 */
export interface AuthorizeContext {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  userId?: string | undefined;
  isEnterpriseInstall: boolean;
}

type J = Record<string, unknown>;
const obj = (v: unknown): J | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as J) : undefined;
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const bool = (v: unknown): boolean => v === true || v === "true";

/**
 * Extracts the {@link AuthorizeContext} of a parsed Slack payload: an Events API body, a slash command's
 * form fields, or an interactivity `payload` object.
 *
 * @example
 * ```ts
 * extractContext({ team_id: "T1", user_id: "U1", is_enterprise_install: "false", command: "/open-modal" });
 * // { teamId: "T1", userId: "U1", isEnterpriseInstall: false }
 * ```
 * @see https://docs.slack.dev/apis/events-api/#callback-field
 */
export function extractContext(body: J): AuthorizeContext {
  // For org-wide installs teamId is the workspace the request came from; lookups ignore it.
  // Events API: the wrapper's authorizations[0] names the installation this delivery is for; in shared
  // channels team_id may be another workspace's, so authorizations wins over the wrapper.
  if (body.type === "event_callback" || body.type === "app_rate_limited" || Array.isArray(body.authorizations)) {
    const auth = Array.isArray(body.authorizations) ? obj(body.authorizations[0]) : undefined;
    const event = obj(body.event);
    const isEnterpriseInstall = auth ? bool(auth.is_enterprise_install) : bool(body.is_enterprise_install);
    return compact({
      enterpriseId: str(auth?.enterprise_id) ?? str(body.enterprise_id),
      teamId: str(auth?.team_id) ?? str(body.team_id) ?? str(event?.team),
      userId: str(auth?.user_id) ?? str(event?.user) ?? str(obj(event?.user)?.id),
      isEnterpriseInstall,
    });
  }
  // Interactivity payloads: team/enterprise/user objects.
  if (
    typeof body.type === "string" &&
    (obj(body.team) !== undefined || obj(body.user) !== undefined || body.team === null)
  ) {
    const isEnterpriseInstall = bool(body.is_enterprise_install);
    const view = obj(body.view);
    return compact({
      enterpriseId: str(obj(body.enterprise)?.id) ?? str(obj(body.user)?.enterprise_id) ?? str(body.enterprise_id),
      teamId: str(obj(body.team)?.id) ?? str(obj(body.user)?.team_id) ?? str(view?.team_id) ?? str(body.team_id),
      userId: str(obj(body.user)?.id) ?? str(body.user_id),
      isEnterpriseInstall,
    });
  }
  // Slash commands (form fields) and anything flat.
  const isEnterpriseInstall = bool(body.is_enterprise_install);
  return compact({
    enterpriseId: str(body.enterprise_id),
    teamId: str(body.team_id),
    userId: str(body.user_id),
    isEnterpriseInstall,
  });
}

function compact(c: AuthorizeContext): AuthorizeContext {
  const out: AuthorizeContext = { isEnterpriseInstall: c.isEnterpriseInstall };
  if (c.enterpriseId) out.enterpriseId = c.enterpriseId;
  if (c.teamId) out.teamId = c.teamId;
  if (c.userId) out.userId = c.userId;
  return out;
}
