/**
 * For operators and apps that look after their installations: scope drift (which installations lack
 * scopes the app asks for now, and the links that reinstall them) and the workspaces of org-wide
 * installs (reconciling the recorded ones with `auth.teams.list`, and recording `team_access_*` events the
 * way the events handler does, for handlers of your own).
 *
 * @module
 */
export {
  type ReconcileTeamAccessOptions,
  reconcileTeamAccess,
  recordTeamAccess,
  type TeamAccessReconciliation,
  type TeamsListApi,
} from "../authorize/team-access.js";
export { missingScopes, needsReinstall, type RequiredScopes, type ScopeDrift, scopeDrift } from "../model/scopes.js";
export { type InstallationPlace, installLinkFor, reinstallTeam, reinstallUrl } from "../oauth/authorize-url.js";
