import type { Installation } from "../model/installation.js";
import { escapeHtml, layout } from "./html.js";

/** What the install page shows. */
export interface InstallPageContext {
  /** Slack's authorize URL for this browser (with its one-time state). */
  url: string;
  appName?: string | undefined;
}

/** What the success page shows. */
export interface SuccessPageContext {
  installation: Installation;
  /** Where "Open Slack" points: `slack://app?team=…&id=…`, or the org's app-management page. */
  openUrl: string;
  /** Web fallback for the deep link. */
  webUrl?: string | undefined;
  /** The app's home page, linked as "Back to the app" (the flow's `homeUrl` option). */
  homeUrl?: string | undefined;
}

/** What a failure page shows. */
export interface FailurePageContext {
  /** Stable error code (see `ErrorCode`). */
  code: string;
  /** Plain-words explanation, safe to show. */
  message: string;
  status: number;
  /** Where to start again. */
  retryUrl: string;
  /** The app's home page, linked as "Back to the app" (the flow's `homeUrl` option). */
  homeUrl?: string | undefined;
}

/**
 * The default install page. The "Add to Slack" button is drawn with CSS, not Slack's hosted image, so
 * the page looks right offline (sandbox mode, tests).
 */
export function renderInstallPage(ctx: InstallPageContext): string {
  const href = escapeHtml(ctx.url);
  const name = ctx.appName ? escapeHtml(ctx.appName) : "this app";
  return layout(
    "Add to Slack",
    `<h1>Install ${name}</h1>
<p>Install ${name} to your Slack workspace. You will be asked which workspace to use and what the app may do.</p>
<p><a class="button" id="add-to-slack" href="${href}">Add to Slack</a></p>
<p class="muted">This link works once and expires in 10 minutes. Reload the page for a fresh one.</p>`,
  );
}

/** The "Back to the app" link of the success and failure pages, when the flow knows the app's home page. */
function homeLink(homeUrl: string | undefined): string {
  return homeUrl ? `\n<p><a id="home" href="${escapeHtml(homeUrl)}">Back to the app</a></p>` : "";
}

/** The default success page, with a deep link into Slack. */
export function renderSuccessPage(ctx: SuccessPageContext): string {
  const i = ctx.installation;
  const where = i.isEnterpriseInstall ? (i.enterpriseName ?? i.enterpriseId) : (i.teamName ?? i.teamId);
  return layout(
    "Installation complete",
    `<h1>Installation complete</h1>
<p>The app is now installed on <strong>${escapeHtml(where ?? "your workspace")}</strong>.</p>
<p><a class="button" id="open-slack" href="${escapeHtml(ctx.openUrl)}">Open Slack</a>
${ctx.webUrl ? ` <a class="button secondary" href="${escapeHtml(ctx.webUrl)}">Open in the browser</a>` : ""}</p>${homeLink(ctx.homeUrl)}`,
    "ok",
  );
}

/** The default failure page: what happened in plain words, and a link to start again. */
export function renderFailurePage(ctx: FailurePageContext): string {
  return layout(
    "Installation not completed",
    `<h1>Installation not completed</h1>
<p>${escapeHtml(ctx.message)}</p>
<p><a class="button" id="retry" href="${escapeHtml(ctx.retryUrl)}">Start again</a></p>
<p class="muted">Error code: <code>${escapeHtml(ctx.code)}</code></p>${homeLink(ctx.homeUrl)}`,
    "bad",
  );
}
