/**
 * Deterministic fixtures of `bench/events.ts`: N installations (one bot + installing user per workspace)
 * in our model and in `@slack/oauth`'s, and signed slash commands from those workspaces.
 */
import { randomBytes } from "node:crypto";
import type { Installation as OAuthInstallation } from "@slack/oauth";
import type { Installation } from "../../src/model/installation.js";
import { SignatureSigner } from "../../src/signature/signature.js";

export const BENCH_APP_ID = "A0BENCH0001";
export const BENCH_COMMAND = "/bench";
export const EVENTS_PATH = "/slack/events";
/** The second app of the two-app targets (the first is {@link BENCH_APP_ID}, in the default partition). */
export const SECOND_APP = { appId: "A0BENCHAPP2", clientId: "2222222222.2222222222222" } as const;
/** The events paths of the two apps of the `ours-apps` target. */
export const APP_EVENTS_PATHS = ["/slack/alpha/events", "/slack/beta/events"] as const;

export function teamId(i: number): string {
  return `T${i.toString().padStart(10, "0")}`;
}

export function userId(i: number): string {
  return `U${i.toString().padStart(10, "0")}`;
}

function token(prefix: string, i: number): string {
  return `${prefix}-${i.toString().padStart(12, "0")}-${randomBytes(12).toString("hex")}`;
}

/** Installation `i` in our model (bot + the installing user's token). */
export function ourInstallation(i: number): Installation {
  return {
    appId: BENCH_APP_ID,
    teamId: teamId(i),
    teamName: `Workspace ${i}`,
    botToken: token("xoxb", i),
    botId: `B${i.toString().padStart(10, "0")}`,
    botUserId: `U${i.toString().padStart(9, "0")}B`,
    botScopes: ["commands", "chat:write"],
    userId: userId(i),
    userToken: token("xoxp", i),
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.123,
    customValues: {},
  };
}

/** Installation `i` in `@slack/oauth`'s model (what `InstallProvider.handleCallback` would store). */
export function oauthInstallation(i: number): OAuthInstallation<"v2", false> {
  return {
    team: { id: teamId(i), name: `Workspace ${i}` },
    enterprise: undefined,
    user: { id: userId(i), token: token("xoxp", i), scopes: ["search:read"] },
    bot: {
      id: `B${i.toString().padStart(10, "0")}`,
      userId: `U${i.toString().padStart(9, "0")}B`,
      token: token("xoxb", i),
      scopes: ["commands", "chat:write"],
    },
    tokenType: "bot",
    isEnterpriseInstall: false,
    appId: BENCH_APP_ID,
    authVersion: "v2",
  };
}

/** The form body of a slash command typed by the installing user of workspace `i`. */
export function slashCommandBody(i: number, appId: string = BENCH_APP_ID): string {
  return new URLSearchParams({
    token: "bEnChVeRiFiCaTiOnToKeN01",
    team_id: teamId(i),
    team_domain: `workspace-${i}`,
    channel_id: "C0000000001",
    channel_name: "general",
    user_id: userId(i),
    user_name: `user${i}`,
    command: BENCH_COMMAND,
    text: "hello",
    api_app_id: appId,
    is_enterprise_install: "false",
    response_url: `https://hooks.slack.com/commands/${teamId(i)}/1234567890123/abcdefABCDEF0123456789`,
    trigger_id: `1234567890123.1234567890123.${i.toString(16).padStart(32, "0")}`,
  }).toString();
}

/** A signed request for autocannon / the HTTP client (timestamp = now). */
export interface SignedRequest {
  method: "POST";
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** `count` signed slash commands from workspaces `0 … count-1` (spread over `installations`), signed now. */
export function signedCommands(
  signingSecret: string,
  count: number,
  installations: number,
  appId: string = BENCH_APP_ID,
): SignedRequest[] {
  const signer = new SignatureSigner(signingSecret);
  const stride = Math.max(1, Math.floor(installations / count));
  return Array.from({ length: count }, (_, k) => {
    const body = slashCommandBody((k * stride) % installations, appId);
    return {
      method: "POST",
      path: EVENTS_PATH,
      headers: { "content-type": "application/x-www-form-urlencoded", ...lower(signer.headers(body)) },
      body,
    };
  });
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
