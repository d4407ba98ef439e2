/**
 * The Slack OAuth scopes `doctor` knows, for "is this a typo?" checks. From Slack's permission scopes
 * reference; Slack adds scopes over time, so `doctor --known-scope NAME` accepts one this list lacks.
 *
 * @see https://docs.slack.dev/reference/scopes
 */

/** Scopes a bot token may hold (granular bot scopes). */
export const BOT_SCOPES: ReadonlySet<string> = new Set([
  "app_mentions:read",
  "assistant:write",
  "bookmarks:read",
  "bookmarks:write",
  "calls:read",
  "calls:write",
  "canvases:read",
  "canvases:write",
  "channels:history",
  "channels:join",
  "channels:manage",
  "channels:read",
  "channels:write.invites",
  "channels:write.topic",
  "chat:write",
  "chat:write.customize",
  "chat:write.public",
  "commands",
  "conversations.connect:manage",
  "conversations.connect:read",
  "conversations.connect:write",
  "datastore:read",
  "datastore:write",
  "dnd:read",
  "emoji:read",
  "files:read",
  "files:write",
  "groups:history",
  "groups:read",
  "groups:write",
  "groups:write.invites",
  "groups:write.topic",
  "im:history",
  "im:read",
  "im:write",
  "im:write.topic",
  "incoming-webhook",
  "links.embed:write",
  "links:read",
  "links:write",
  "lists:read",
  "lists:write",
  "metadata.message:read",
  "mpim:history",
  "mpim:read",
  "mpim:write",
  "mpim:write.topic",
  "pins:read",
  "pins:write",
  "reactions:read",
  "reactions:write",
  "reminders:read",
  "reminders:write",
  "remote_files:read",
  "remote_files:share",
  "remote_files:write",
  "search:read.files",
  "search:read.im",
  "search:read.mpim",
  "search:read.private",
  "search:read.public",
  "search:read.users",
  "team.billing:read",
  "team.preferences:read",
  "team:read",
  "tokens.basic",
  "triggers:read",
  "triggers:write",
  "usergroups:read",
  "usergroups:write",
  "users.profile:read",
  "users:read",
  "users:read.email",
  "users:write",
  "workflow.steps:execute",
  "workflows.templates:read",
  "workflows.templates:write",
]);

/** Scopes a user token may hold. */
export const USER_SCOPES: ReadonlySet<string> = new Set([
  "admin",
  "admin.analytics:read",
  "admin.app_activities:read",
  "admin.apps:read",
  "admin.apps:write",
  "admin.barriers:read",
  "admin.barriers:write",
  "admin.chat:read",
  "admin.chat:write",
  "admin.conversations:manage_objects",
  "admin.conversations:read",
  "admin.conversations:write",
  "admin.invites:read",
  "admin.invites:write",
  "admin.roles:read",
  "admin.roles:write",
  "admin.teams:read",
  "admin.teams:write",
  "admin.usergroups:read",
  "admin.usergroups:write",
  "admin.users:read",
  "admin.users:write",
  "admin.workflows:read",
  "admin.workflows:write",
  "auditlogs:read",
  "bookmarks:read",
  "bookmarks:write",
  "calls:read",
  "calls:write",
  "canvases:read",
  "canvases:write",
  "channels:history",
  "channels:read",
  "channels:write",
  "channels:write.invites",
  "channels:write.topic",
  "chat:write",
  "dnd:read",
  "dnd:write",
  "emoji:read",
  "files:read",
  "files:write",
  "groups:history",
  "groups:read",
  "groups:write",
  "groups:write.invites",
  "groups:write.topic",
  "identify",
  "im:history",
  "im:read",
  "im:write",
  "im:write.topic",
  "incoming-webhook",
  "links:read",
  "links:write",
  "lists:read",
  "lists:write",
  "mpim:history",
  "mpim:read",
  "mpim:write",
  "mpim:write.topic",
  "pins:read",
  "pins:write",
  "reactions:read",
  "reactions:write",
  "reminders:read",
  "reminders:write",
  "remote_files:read",
  "remote_files:share",
  "search:read",
  "search:read.files",
  "search:read.im",
  "search:read.mpim",
  "search:read.private",
  "search:read.public",
  "search:read.users",
  "stars:read",
  "stars:write",
  "team.billing:read",
  "team.preferences:read",
  "team:read",
  "usergroups:read",
  "usergroups:write",
  "users.profile:read",
  "users.profile:write",
  "users:read",
  "users:read.email",
  "users:write",
]);

/** Sign in with Slack scopes: only for `/openid/connect/authorize`, never in an install. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(["openid", "profile", "email"]);

/** Classic-app scopes (`oauth.access` v1): a v2 install (this server's) cannot request them. */
export const LEGACY_SCOPES: ReadonlySet<string> = new Set([
  "bot",
  "client",
  "post",
  "read",
  "chat:write:bot",
  "chat:write:user",
  "files:write:user",
  "identity.basic",
  "identity.email",
  "identity.team",
  "identity.avatar",
]);

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** The known scope closest to `scope` (a likely typo), if one is within 3 edits. */
export function closestScope(scope: string): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const s of new Set([...BOT_SCOPES, ...USER_SCOPES])) {
    const d = distance(scope.toLowerCase(), s);
    if (d < bestD) {
      bestD = d;
      best = s;
    }
  }
  return best;
}
