/** Helpers of the multi-app server tests: an install through one app's paths, a signed command. */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { OPEN_MODAL_COMMAND } from "../../src/app/slack-app.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { consent } from "../oauth/flow-harness.js";

/** The emulator's first workspace. */
export const TEAM = "T0000000001";
const hex = () => randomBytes(16).toString("hex");

/** Starts an install on `installPath`, consents at the emulator, finishes on the callback with the app's cookie. */
export async function installApp(
  base: string,
  app: { name: string; installPath: string },
  team = TEAM,
): Promise<{ status: number; html: string; state: string; cookieName: string }> {
  const start = await fetch(`${base}${app.installPath}`, { redirect: "manual" });
  const html = await start.text();
  expect(start.status, html).toBe(200);
  // Each app's state cookie has its own name: two installs in one browser do not overwrite each other.
  const cookieName = `slack-app-oauth-state-${app.name}`;
  const set = start.headers.getSetCookie().find((c) => c.startsWith(`${cookieName}=`));
  expect(set, `${cookieName} cookie`).toBeDefined();
  const cookie = set!.split(";")[0]!;
  const href = /id="add-to-slack" href="([^"]+)"/.exec(html)?.[1]?.replaceAll("&amp;", "&");
  expect(href).toBeDefined();
  const state = new URL(href!).searchParams.get("state") ?? "";
  const location = await consent(href!, { team });
  const done = await fetch(location, { headers: { cookie }, redirect: "manual" });
  return { status: done.status, html: await done.text(), state, cookieName };
}

/** A signed `/open-modal` (its trigger_id is not the emulator's: views.open is not reached). */
export function signedCommand(
  appId: string,
  secret: string,
  team = TEAM,
): { body: string; headers: Record<string, string> } {
  const body = new URLSearchParams({
    team_id: team,
    user_id: "U0000000001",
    command: OPEN_MODAL_COMMAND,
    text: "",
    api_app_id: appId,
    trigger_id: `1.${Date.now()}.${hex()}`,
    response_url: "http://127.0.0.1:9/commands/x",
  }).toString();
  return {
    body,
    headers: { "content-type": "application/x-www-form-urlencoded", ...new SignatureSigner(secret).headers(body) },
  };
}
