import { escapeHtml, layout } from "../oauth/html.js";
import { type SlackIdentity, safeImageUrl } from "./identity.js";

/**
 * What the sign-in page shows.
 *
 * @example
 * ```ts
 * const ctx: SignInPageContext = { url: authorizeUrl, appName: "Acme" };
 * ```
 */
export interface SignInPageContext {
  /** Slack's authorize URL for this browser (with its one-time state and nonce). */
  url: string;
  appName?: string | undefined;
}

/**
 * What the default "signed in" page shows (apps usually redirect from `onSignIn` instead).
 *
 * @example
 * ```ts
 * const ctx: SignedInPageContext = { identity };
 * ```
 */
export interface SignedInPageContext {
  identity: SlackIdentity;
}

/**
 * What a sign-in failure page shows.
 *
 * @example
 * ```ts
 * const ctx: SignInFailurePageContext = { code: "SLACK_OAUTH_STATE_REUSED", message: "…", status: 400, retryUrl: "/slack/login" };
 * ```
 */
export interface SignInFailurePageContext {
  /** Stable error code (see `ErrorCode`). */
  code: string;
  /** Plain-words explanation, safe to show. */
  message: string;
  status: number;
  /** Where to start again. */
  retryUrl: string;
}

/**
 * The default sign-in page: a "Sign in with Slack" button drawn with CSS (Slack's hosted image would not
 * load offline, in sandbox mode and tests).
 *
 * @example
 * ```ts
 * const html = renderSignInPage({ url: authorizeUrl, appName: "Acme" });
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export function renderSignInPage(ctx: SignInPageContext): string {
  const name = ctx.appName ? escapeHtml(ctx.appName) : "this app";
  return layout(
    "Sign in with Slack",
    `<h1>Sign in to ${name}</h1>
<p>Use your Slack account to sign in. Slack will ask which workspace to use and show what ${name} will see: your name, email address and avatar.</p>
<p><a class="button" id="sign-in-with-slack" href="${escapeHtml(ctx.url)}">Sign in with Slack</a></p>
<p class="muted">This link works once and expires in 10 minutes. Reload the page for a fresh one.</p>`,
  );
}

/**
 * The default page after a successful sign-in, when the app neither answers from `onSignIn` nor sets a
 * `successUrl`.
 *
 * @example
 * ```ts
 * const html = renderSignedInPage({ identity });
 * ```
 */
export function renderSignedInPage(ctx: SignedInPageContext): string {
  const i = ctx.identity;
  return layout(
    "Signed in",
    `<h1>Signed in</h1>
<p>You are signed in as <strong>${escapeHtml(i.name ?? i.userId)}</strong>${i.teamName ? ` of <strong>${escapeHtml(i.teamName)}</strong>` : ""}.</p>
<p><a class="button" href="/">Continue</a></p>`,
    "ok",
  );
}

/**
 * The default sign-in failure page: what happened in plain words, a link to start again, the error code.
 *
 * @example
 * ```ts
 * const html = renderSignInFailurePage({ code, message, status: 400, retryUrl: "/slack/login" });
 * ```
 */
export function renderSignInFailurePage(ctx: SignInFailurePageContext): string {
  return layout(
    "Sign-in not completed",
    `<h1>Sign-in not completed</h1>
<p>${escapeHtml(ctx.message)}</p>
<p><a class="button" id="retry" href="${escapeHtml(ctx.retryUrl)}">Sign in again</a></p>
<p class="muted">Error code: <code>${escapeHtml(ctx.code)}</code></p>`,
    "bad",
  );
}

/**
 * What the profile page shows.
 *
 * @example
 * ```ts
 * const ctx: ProfilePageContext = { identity, logoutPath: "/logout" };
 * ```
 */
export interface ProfilePageContext {
  identity: Pick<SlackIdentity, "userId" | "teamId"> & Partial<SlackIdentity>;
  /**
   * Where the "Sign out" form posts.
   *
   * @default `/logout`
   */
  logoutPath?: string | undefined;
  /** When the session ends, epoch seconds. */
  expiresAt?: number | undefined;
}

/**
 * A profile page for a signed-in user: avatar (only an http(s) URL), name, email, workspace, and a sign-out
 * form (POST). Every value is escaped.
 *
 * @example
 * ```ts
 * const html = renderProfilePage({ identity: session, logoutPath: "/logout" });
 * ```
 */
export function renderProfilePage(ctx: ProfilePageContext): string {
  const i = ctx.identity;
  const avatar = safeImageUrl(i.picture);
  const row = (label: string, value: string | undefined, id: string) =>
    value ? `<tr><th>${label}</th><td id="${id}">${escapeHtml(value)}</td></tr>` : "";
  const email =
    i.email !== undefined
      ? `${i.email}${i.emailVerified === true ? " (verified)" : i.emailVerified === false ? " (not verified)" : ""}`
      : undefined;
  const team = i.teamName ? `${i.teamName}${i.teamDomain ? ` (${i.teamDomain}.slack.com)` : ""}` : i.teamId;
  const expires =
    ctx.expiresAt !== undefined
      ? `<p class="muted">Session ends ${escapeHtml(new Date(ctx.expiresAt * 1000).toISOString())} (UTC).</p>`
      : "";
  return layout(
    "Your profile",
    `<h1>Your profile</h1>
${avatar ? `<p><img id="avatar" src="${escapeHtml(avatar)}" alt="" width="72" height="72" style="border-radius:8px;background:rgba(128,128,128,.2)" referrerpolicy="no-referrer"></p>` : ""}
<table><tbody>
${row("Name", i.name ?? i.userId, "name")}
${row("Email", email, "email")}
${row("Workspace", team, "team")}
${row("Slack user id", i.userId, "user-id")}
</tbody></table>
${expires}
<form method="post" action="${escapeHtml(ctx.logoutPath ?? "/logout")}"><p><button type="submit" id="sign-out" style="font:inherit">Sign out</button> <a class="button secondary" href="/">Home</a></p></form>`,
  );
}
