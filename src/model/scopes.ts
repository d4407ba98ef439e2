/**
 * Scope drift: what the app asks for today (its configured bot and user scopes) against what each
 * installation granted when it was installed. An app that adds a scope keeps working where it was
 * installed before, but every call that needs the new scope fails there until an admin reinstalls.
 */
import type { Installation } from "./installation.js";

/**
 * The scopes an app is configured to request (the same lists its authorize URL sends).
 *
 * @example
 * ```ts
 * const required: RequiredScopes = { bot: ["commands", "chat:write"], user: ["search:read"] };
 * ```
 */
export interface RequiredScopes {
  /** Bot scopes (`SLACK_SCOPES`). */
  bot?: readonly string[] | undefined;
  /** User scopes (`SLACK_USER_SCOPES`). */
  user?: readonly string[] | undefined;
}

/**
 * The scopes of `required` that `granted` lacks, in the order of `required`, without duplicates.
 *
 * @example
 * ```ts
 * missingScopes(["commands"], ["commands", "chat:write"]); // ["chat:write"]
 * ```
 */
export function missingScopes(
  granted: readonly string[] | undefined,
  required: readonly string[] | undefined,
): string[] {
  if (required === undefined || required.length === 0) return [];
  const have = new Set(granted ?? []);
  const out: string[] = [];
  for (const s of required) if (!have.has(s) && !out.includes(s)) out.push(s);
  return out;
}

/**
 * What one workspace (or org-wide install) lacks of the configured scopes.
 *
 * @example
 * ```ts
 * const drift: ScopeDrift = { missingBotScopes: ["channels:read"], users: [] };
 * ```
 */
export interface ScopeDrift {
  /** Configured bot scopes the latest bot was not granted (all of them when there is no bot). */
  missingBotScopes: string[];
  /** Installing users whose user token lacks configured user scopes (all of them when they have no user token). */
  users: Array<{ userId: string; missingUserScopes: string[] }>;
}

/**
 * Compares a workspace's latest bot and the latest installation of each user with the configured
 * scopes. A workspace needs a reinstall when {@link needsReinstall} says so.
 *
 * @example
 * ```ts
 * const drift = scopeDrift({ bot, installations }, { bot: ["commands", "chat:write"] });
 * ```
 */
export function scopeDrift(
  workspace: { bot?: { botScopes: readonly string[] } | undefined; installations: readonly Installation[] },
  required: RequiredScopes,
): ScopeDrift {
  const wantsBot = (required.bot?.length ?? 0) > 0;
  const missingBotScopes = wantsBot ? missingScopes(workspace.bot?.botScopes ?? [], required.bot) : [];
  const users: ScopeDrift["users"] = [];
  if ((required.user?.length ?? 0) > 0) {
    for (const i of workspace.installations) {
      const missing = missingScopes(i.userToken ? i.userScopes : [], required.user);
      if (missing.length > 0) users.push({ userId: i.userId, missingUserScopes: missing });
    }
  }
  return { missingBotScopes, users };
}

/**
 * True when the drift asks for a reinstall: the bot or an installing user lacks a configured scope.
 *
 * @example
 * ```ts
 * if (needsReinstall(scopeDrift(workspace, required))) console.log("reinstall", workspace.teamId);
 * ```
 */
export function needsReinstall(drift: ScopeDrift): boolean {
  return drift.missingBotScopes.length > 0 || drift.users.length > 0;
}
