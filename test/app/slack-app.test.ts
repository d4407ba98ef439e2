/**
 * The reference app end to end, over real sockets: the emulator installs workspaces, sends signed slash
 * commands, interactions and lifecycle events to `createReferenceSlackApp` (SQLite store behind a cache,
 * `createAuthorize`, the Node adapter on 127.0.0.1:0), and records the Web API calls the app makes.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createReferenceSlackApp, INSTALL_PROMPT, openModalView } from "../../src/app/slack-app.js";
import { createAuthorize } from "../../src/authorize/authorize.js";
import type { Emulator } from "../../src/emulator/index.js";
import { toNodeListener } from "../../src/http/node.js";
import { installationFromV2Response } from "../../src/model/parse.js";
import type { Logger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { closeAll, install, start } from "../emulator/helpers.js";

const NORTHWIND = "T0000000001";
const GLOBEX = "T0000000002";
const INITECH = "T0000000003";
const ACME_ENG = "T0000000004";
const ACME_ORG = "E0000000001";
const BOB = "U0000000002";

let emu: Emulator;
let server: Server;
let appUrl: string;
let store: CachingInstallationStore;
let signingSecret: string;
const logLines: string[] = [];
const submissions: Array<{ values: Record<string, string>; teamId?: string | undefined; userId?: string | undefined }> =
  [];
/** Authorization headers the app sent to views.open, in order. */
const viewsOpenAuth: string[] = [];

/** A logger that keeps everything it is given, unredacted: the app itself must not hand it secrets. */
const logger: Logger = {
  debug: (m, ...a) => void logLines.push([m, ...a.map((x) => JSON.stringify(x))].join(" ")),
  info: (m, ...a) => void logLines.push([m, ...a.map((x) => JSON.stringify(x))].join(" ")),
  warn: (m, ...a) => void logLines.push([m, ...a.map((x) => JSON.stringify(x))].join(" ")),
  error: (m, ...a) => void logLines.push([m, ...a.map((x) => JSON.stringify(x))].join(" ")),
};

beforeAll(async () => {
  // The app's server first (its URL goes into the emulator's app settings); its handler is set below.
  let handler: ((r: Request) => Promise<Response>) | undefined;
  server = createServer(
    toNodeListener((request) => handler?.(request) ?? Promise.resolve(new Response(null, { status: 503 }))),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  signingSecret = randomBytes(16).toString("hex");
  emu = await start({ appUrl, signingSecret });

  store = new CachingInstallationStore(new SQLiteInstallationStore({ filename: ":memory:" }));
  const api = new SlackApiClient({
    baseUrl: emu.apiUrl,
    maxRetries: 0,
    fetch: async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.endsWith("/views.open")) viewsOpenAuth.push(new Headers(init?.headers).get("authorization") ?? "");
      return fetch(input, init);
    },
  });
  const app = createReferenceSlackApp({
    signingSecret,
    authorize: createAuthorize({ installationStore: store }),
    installationStore: store,
    api,
    logger,
    onSubmission: (values, where) => {
      submissions.push({ values, ...where });
    },
  });
  handler = (request) => app.handle(request);
});

afterAll(async () => {
  await closeAll();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await store.close();
});

afterEach(() => {
  emu.clearFaults();
});

/** Consent (as a plain HTTP client) + oauth.v2.access + auth.test in the emulator; saved to our store unless told. */
async function installApp(team: string, o: { save?: boolean } = {}) {
  const reply = await install(emu, { user_scope: "chat:write" }, { team });
  const authTest = await new SlackApiClient({ baseUrl: emu.apiUrl }).authTest(reply.access_token as string);
  const installation = installationFromV2Response(reply, { authTest });
  if (o.save !== false) await store.save(installation);
  return installation;
}

function json(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

describe("reference app against the emulator", () => {
  it("answers the emulator's url_verification", async () => {
    const res = await emu.sendUrlVerification();
    expect(res.verified).toBe(true);
  });

  it("/open-modal opens the modal with the workspace's own bot token", async () => {
    const northwind = await installApp(NORTHWIND);
    const globex = await installApp(GLOBEX);
    expect(northwind.botToken).not.toBe(globex.botToken);

    const before = viewsOpenAuth.length;
    const res = await emu.sendSlashCommand({ teamId: GLOBEX, userId: "U0000000005", command: "/open-modal" });
    expect(res.status).toBe(200);
    expect(res.body).toBe(""); // an empty acknowledgement: the modal is the answer
    expect(viewsOpenAuth.slice(before)).toEqual([`Bearer ${globex.botToken}`]);
    expect(emu.calls("views.open").at(-1)).toEqual({ method: "views.open", teamId: GLOBEX, ok: true, error: null });
    const view = emu.views().at(-1);
    expect(view).toMatchObject({ teamId: GLOBEX, userId: "U0000000005" });
    expect(view?.view).toMatchObject({ type: "modal", callback_id: "modal-id" });
    expect(view?.view.blocks).toEqual(openModalView().blocks);

    const again = await emu.sendSlashCommand({ teamId: NORTHWIND, userId: BOB, command: "/open-modal" });
    expect(again.status).toBe(200);
    expect(viewsOpenAuth.at(-1)).toBe(`Bearer ${northwind.botToken}`);
    expect(emu.views().at(-1)).toMatchObject({ teamId: NORTHWIND, userId: BOB });
  });

  it("the modal-id submission is acknowledged (empty 200) and its values handled", async () => {
    const res = await emu.sendInteraction({
      type: "view_submission",
      teamId: NORTHWIND,
      userId: BOB,
      payload: {
        view: {
          id: "V0SUBMIT01",
          team_id: NORTHWIND,
          type: "modal",
          callback_id: "modal-id",
          state: {
            values: { "input-block": { "input-action": { type: "plain_text_input", value: "Hello from Bob" } } },
          },
        },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe("");
    expect(submissions.at(-1)).toEqual({
      values: { "input-block.input-action": "Hello from Bob" },
      teamId: NORTHWIND,
      userId: BOB,
    });
  });

  it("other interactions are acknowledged without being taken for the submission", async () => {
    const count = submissions.length;
    const res = await emu.sendInteraction({ type: "block_actions", teamId: NORTHWIND, userId: BOB });
    expect(res.status).toBe(200);
    expect(submissions.length).toBe(count);
  });

  it("a workspace where the app has no installation stored gets the install prompt", async () => {
    await installApp(INITECH, { save: false }); // installed in Slack, but our store knows nothing of it
    const calls = emu.calls("views.open").length;
    const res = await emu.sendSlashCommand({ teamId: INITECH, command: "/open-modal" });
    expect(res.status).toBe(200);
    expect(json(res.body)).toEqual({ response_type: "ephemeral", text: INSTALL_PROMPT });
    expect(emu.calls("views.open").length).toBe(calls);
  });

  it("Slack API errors become a readable ephemeral reply, logged without tokens or secrets", async () => {
    const installation = await store.findBot({ teamId: NORTHWIND });
    const faults = [
      { fault: { method: "views.open", error: "invalid_trigger_id" }, expect: /invalid_trigger_id/ },
      { fault: { method: "views.open", status: 500 }, expect: /try again/i },
      { fault: { method: "views.open", ratelimited: true, retryAfter: 120 }, expect: /ratelimited|slow down/i },
    ];
    for (const f of faults) {
      logLines.length = 0;
      emu.injectFault(f.fault);
      const res = await emu.sendSlashCommand({ teamId: NORTHWIND, userId: BOB, command: "/open-modal" });
      expect(res.status).toBe(200);
      const reply = json(res.body);
      expect(reply.response_type).toBe("ephemeral");
      expect(reply.text).toMatch(/^Sorry, I could not open the modal\./);
      expect(reply.text).toMatch(f.expect);
      const everything = `${res.body}\n${logLines.join("\n")}`;
      expect(logLines.some((l) => l.includes("views.open"))).toBe(true);
      expect(everything).not.toMatch(/xox[a-z]?-/);
      expect(everything).not.toContain(installation?.botToken);
      expect(everything).not.toContain(signingSecret);
      expect(everything).not.toContain(emu.app.clientSecret);
    }
  });

  it("uninstall through the emulator empties the store, and the next /open-modal gets the install prompt", async () => {
    // The cache is warm for Northwind (previous tests).
    expect(await store.findBot({ teamId: NORTHWIND })).toBeDefined();
    const result = await emu.uninstall({ teamId: NORTHWIND });
    expect(result.deliveries).toEqual([
      { type: "app_uninstalled", status: 200, ok: true },
      { type: "tokens_revoked", status: 200, ok: true },
    ]);
    expect(await store.findBot({ teamId: NORTHWIND })).toBeUndefined();
    expect(await store.findInstallation({ teamId: NORTHWIND })).toBeUndefined();
    expect(await store.inner.findBot({ teamId: NORTHWIND })).toBeUndefined();
    // Globex is untouched.
    expect(await store.findBot({ teamId: GLOBEX })).toBeDefined();

    // Slack refuses to send to an uninstalled workspace; reinstall there without telling our store (a
    // lost OAuth callback), so that the emulator delivers the command again.
    await installApp(NORTHWIND, { save: false });
    const calls = emu.calls("views.open").length;
    const res = await emu.sendSlashCommand({ teamId: NORTHWIND, userId: BOB, command: "/open-modal" });
    expect(json(res.body)).toEqual({ response_type: "ephemeral", text: INSTALL_PROMPT });
    expect(emu.calls("views.open").length).toBe(calls);
  });

  it("a revoked user token is deleted, the bot stays", async () => {
    const globex = await store.findInstallation({ teamId: GLOBEX });
    expect(globex?.userToken).toBeDefined();
    const result = await emu.revoke({ teamId: GLOBEX, userIds: [globex?.userId as string] });
    expect(result.deliveries).toEqual([{ type: "tokens_revoked", status: 200, ok: true }]);
    const after = await store.findInstallation({ teamId: GLOBEX, userId: globex?.userId as string });
    expect(after).toBeUndefined();
    expect((await store.findBot({ teamId: GLOBEX }))?.botToken).toBe(globex?.botToken);
  });

  it("org-wide install: commands from any workspace of the org use the org's token; uninstall deletes it", async () => {
    const org = await installApp(ACME_ORG);
    expect(org.isEnterpriseInstall).toBe(true);
    const res = await emu.sendSlashCommand({ teamId: ACME_ENG, userId: "W0000000011", command: "/open-modal" });
    expect(res.status).toBe(200);
    expect(res.body).toBe("");
    expect(viewsOpenAuth.at(-1)).toBe(`Bearer ${org.botToken}`);
    expect(emu.calls("views.open").at(-1)).toMatchObject({ ok: true, teamId: ACME_ORG });

    const result = await emu.uninstall({ enterpriseId: ACME_ORG });
    expect(result.deliveries.every((d) => d.status === 200)).toBe(true);
    expect(
      await store.findBot({ enterpriseId: ACME_ORG, teamId: ACME_ENG, isEnterpriseInstall: true }),
    ).toBeUndefined();
    expect(await store.inner.findInstallation({ enterpriseId: ACME_ORG, isEnterpriseInstall: true })).toBeUndefined();
  });
});

describe("reference app: refusals over real HTTP", () => {
  const post = (body: string | Uint8Array, headers: Record<string, string>) =>
    fetch(`${appUrl}/slack/events`, { method: "POST", headers, body });

  it("a stale signature (the emulator signing 10 minutes ago) → 401", async () => {
    const res = await emu.sendSlashCommand({
      teamId: GLOBEX,
      command: "/open-modal",
      timestamp: Math.floor(Date.now() / 1000) - 600,
    });
    expect(res.status).toBe(401);
  });

  it("a forged or missing signature → 401", async () => {
    const body = new URLSearchParams({ command: "/open-modal", team_id: GLOBEX, user_id: BOB }).toString();
    const forged = new SignatureSigner(randomBytes(16).toString("hex")).headers(body);
    const type = { "content-type": "application/x-www-form-urlencoded" };
    expect((await post(body, { ...type, ...forged })).status).toBe(401);
    expect((await post(body, type)).status).toBe(401);
  });

  it("over 1 MiB → 413; malformed JSON or form → 400", async () => {
    const signer = new SignatureSigner(signingSecret);
    const big = `{"type":"event_callback","pad":"${"x".repeat(1024 * 1024)}"}`;
    expect((await post(big, { "content-type": "application/json", ...signer.headers(big) })).status).toBe(413);
    const broken = '{"type":"event_callback"';
    expect((await post(broken, { "content-type": "application/json", ...signer.headers(broken) })).status).toBe(400);
    const form = "text=hello&team_id=T0000000002";
    const type = { "content-type": "application/x-www-form-urlencoded" };
    expect((await post(form, { ...type, ...signer.headers(form) })).status).toBe(400);
    const payload = "payload=%7Bnot-json";
    expect((await post(payload, { ...type, ...signer.headers(payload) })).status).toBe(400);
  });
});
