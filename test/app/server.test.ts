import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, type ServerConfig } from "../../src/app/config.js";
import { jsonLogger } from "../../src/app/log.js";
import { createApp, type RunningServer, type StartServerOptions, startServer } from "../../src/app/server.js";
import type { OpenedStores } from "../../src/app/stores.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { freePort } from "../helpers/ports.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A memory store whose listing fails (a database that is down for it). */
class UnlistableStore extends MemoryInstallationStore {
  override async listWorkspaces(): Promise<never> {
    throw new Error("listing failed: connection refused");
  }
}

function memoryStores(
  installationStore = new MemoryInstallationStore(),
  stateStore = new MemoryStateStore(),
): OpenedStores {
  return { installationStore, stateStore, close: async () => {} };
}

interface Started {
  running: RunningServer;
  lines: string[];
  emu: Emulator;
}

async function start(config: Partial<ServerConfig> = {}, options: StartServerOptions = {}): Promise<Started> {
  const lines: string[] = [];
  const running = await startServer(
    { ...loadConfig({ PORT: "0" }), databaseUrl: "memory:", ...config },
    { logger: jsonLogger((l) => lines.push(l)), ...options },
  );
  cleanup.push(() => running.close());
  return { running, lines, emu: running.emulator! };
}

/** Installs through the reference app like a browser; returns the callback response and the code used. */
async function installThrough(
  url: string,
  team = "T0000000001",
): Promise<{ response: Response; html: string; code: string }> {
  const started = await startInstall({ url });
  const location = await consent(started.authorizeUrl, { team });
  const response = await callback(location, started.cookie);
  return { response, html: await response.text(), code: location.searchParams.get("code") ?? "" };
}

function parseLogs(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("reference server (sandbox mode)", () => {
  it("prints a localhost URL with the real port when PORT=0, and starts the emulator", async () => {
    const { running, emu } = await start();
    expect(running.url).toMatch(/^http:\/\/localhost:\d+$/);
    expect(running.url).not.toMatch(/:0$/);
    expect(emu.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emu.app.redirectUrls[0]).toBe(`${running.url}/slack/oauth_redirect`);
  });

  it("/healthz answers JSON ok", async () => {
    const { running } = await start();
    const res = await fetch(`${running.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("every response carries an X-Request-Id (a sane incoming one is kept, anything else replaced)", async () => {
    const { running, lines } = await start();
    const a = await fetch(`${running.url}/healthz`);
    const b = await fetch(`${running.url}/nope`);
    expect(b.status).toBe(404);
    const idA = a.headers.get("x-request-id");
    const idB = b.headers.get("x-request-id");
    expect(idA).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(idB).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(idA).not.toBe(idB);
    const kept = await fetch(`${running.url}/healthz`, { headers: { "x-request-id": "lb-1234.abc" } });
    expect(kept.headers.get("x-request-id")).toBe("lb-1234.abc");
    const replaced = await fetch(`${running.url}/healthz`, {
      headers: { "x-request-id": `<script>${"x".repeat(80)}` },
    });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9_-]{8}$/);
    // The id is in the request's log line.
    const logs = parseLogs(lines);
    expect(logs.find((l) => l.requestId === idB)).toMatchObject({
      level: "info",
      msg: "request",
      path: "/nope",
      status: 404,
    });
  });

  it("installs end to end; the installation is in the store; logs are JSON lines without secrets", async () => {
    const { running, lines, emu } = await start();
    const home = await fetch(`${running.url}/`);
    const homeHtml = await home.text();
    expect(homeHtml).toContain('id="install" href="/slack/install"');
    expect(homeHtml).toContain("Sandbox mode");
    expect(homeHtml).toContain(emu.url);
    const { response, html, code } = await installThrough(running.url);
    expect(response.status, html).toBe(200);
    expect(html).toContain("Installation complete");
    const saved = await running.installationStore.findInstallation({ teamId: "T0000000001" });
    expect(saved?.botToken).toMatch(/^xoxb-/);
    expect(saved?.botId).toMatch(/^B/);

    // A failure or two for the logs.
    expect((await callback(`${running.url}/slack/oauth_redirect?error=access_denied`)).status).toBe(400);

    const logs = parseLogs(lines);
    for (const l of logs) {
      expect(typeof l.time).toBe("string");
      expect(new Date(l.time as string).toISOString()).toBe(l.time);
      expect(["debug", "info", "warn", "error"]).toContain(l.level);
      expect(typeof l.msg).toBe("string");
    }
    expect(logs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          msg: "request",
          method: "GET",
          path: "/slack/oauth_redirect",
          status: 200,
          ms: expect.any(Number),
        }),
        expect.objectContaining({ level: "info", msg: expect.stringMatching(/installed app .* on -\/T0000000001/) }),
        expect.objectContaining({ level: "warn", msg: expect.stringContaining(ErrorCode.InstallCancelled) }),
      ]),
    );
    const text = lines.join("\n");
    expect(text).not.toMatch(/xox[a-z]?(?:\.xox[a-z])?-(?!\*{4})/);
    expect(text).not.toContain(saved!.botToken!);
    expect(text).not.toContain(emu.app.clientSecret);
    expect(text).not.toContain(emu.app.signingSecret);
    expect(text).not.toContain(code);
    expect(text).not.toContain("state="); // no query strings in the logs
  });

  it("the home page lists installed workspaces when the store can list them", async () => {
    const store = new MemoryInstallationStore();
    const { running } = await start({}, { stores: memoryStores(store) });
    const before = await (await fetch(`${running.url}/`)).text();
    expect(before).toContain("No workspace has installed the app yet.");
    expect((await installThrough(running.url, "T0000000002")).response.status).toBe(200);
    expect((await installThrough(running.url, "E0000000001")).response.status).toBe(200);
    const after = await (await fetch(`${running.url}/`)).text();
    expect(after).toMatch(/<td><\/td><td>Globex<\/td><td>U0000000004<\/td>/);
    expect(after).toMatch(/<td>Acme Corp<\/td><td>\(org-wide\)<\/td>/);
    expect(after).not.toContain("xox");
  });

  it("with a store whose listing fails, the home page says so instead of an empty table or an error", async () => {
    const { running } = await start({}, { stores: memoryStores(new UnlistableStore()) });
    const res = await fetch(`${running.url}/`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain("The installations cannot be listed right now");
    expect(page).not.toContain("connection refused");
  });

  it("an install started on 127.0.0.1 is sent to the printed origin first (the cookie must be where the callback lands)", async () => {
    const { running } = await start();
    const port = new URL(running.url).port;
    const res = await fetch(`http://127.0.0.1:${port}/slack/install`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${running.url}/slack/install`);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("/slack/events: url_verification from the emulator is answered; unsigned requests get 401", async () => {
    const { running, emu } = await start();
    const verification = await emu.sendUrlVerification();
    expect(verification.verified).toBe(true);
    const unsigned = await fetch(`${running.url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "url_verification", challenge: "abc" }),
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ ok: false, error: "invalid_signature" });
    expect((await fetch(`${running.url}/slack/events`)).status).toBe(405);
  });

  it("a 100 KB callback URL → 414 page with a code and a Start again link; the server keeps serving", async () => {
    const { running } = await start();
    const res = await fetch(`${running.url}/slack/oauth_redirect?code=${"a".repeat(100 * 1024)}&state=x`);
    const html = await res.text();
    expect(res.status).toBe(414);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(html).toContain(`Error code: <code>${ErrorCode.BadRequest}</code>`);
    expect(html).toContain('href="/slack/install">Start again</a>');
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });

  it("close() waits for an in-flight request, then refuses new connections", async () => {
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const states = new MemoryStateStore();
    const slow = {
      issue: async (data?: Record<string, unknown>) => {
        entered();
        await new Promise<void>((r) => {
          release = r;
        });
        return states.issue(data);
      },
      consume: (s: string) => states.consume(s),
    };
    const lines: string[] = [];
    const running = await startServer(
      { ...loadConfig({ PORT: "0" }), databaseUrl: "memory:" },
      { logger: jsonLogger((l) => lines.push(l)), stores: memoryStores(undefined, slow as never) },
    );
    const order: string[] = [];
    const inflight = fetch(`${running.url}/slack/install`).then(async (r) => {
      order.push(`response ${r.status}`);
      return r.text();
    });
    await inside;
    const closed = running.close().then(() => order.push("closed"));
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual([]); // close() is still waiting for the request
    order.push("released");
    release();
    const html = await inflight;
    await closed;
    expect(order[0]).toBe("released"); // close() resolved only after the request could finish
    expect(order).toEqual(expect.arrayContaining(["response 200", "closed"]));
    expect(html).toContain("Add to Slack");
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });
});

describe("reference server (real mode, against an external emulator)", () => {
  it("uses SLACK_* settings: no emulator of its own, installs against the configured Slack", async () => {
    const port = await freePort();
    const appUrl = `http://localhost:${port}`;
    const emu = await startEmulator({ appUrl });
    cleanup.push(() => emu.close());
    const config = loadConfig({
      SLACK_CLIENT_ID: emu.app.clientId,
      SLACK_CLIENT_SECRET: emu.app.clientSecret,
      SLACK_SIGNING_SECRET: emu.app.signingSecret,
      SLACK_API_URL: emu.apiUrl,
      SLACK_AUTHORIZE_URL: emu.authorizeUrl,
      SLACK_REDIRECT_URI: `${appUrl}/slack/oauth_redirect`,
      PORT: String(port),
      DATABASE_URL: "memory:",
    });
    const lines: string[] = [];
    const running = await startServer(config, { logger: jsonLogger((l) => lines.push(l)) });
    cleanup.push(() => running.close());
    expect(running.emulator).toBeUndefined();
    expect(running.url).toBe(appUrl);
    const home = await (await fetch(`${running.url}/`)).text();
    expect(home).not.toContain("Sandbox mode");
    const { response, html } = await installThrough(running.url, "T0000000003");
    expect(response.status, html).toBe(200);
    expect((await running.installationStore.findBot({ teamId: "T0000000003" }))?.botUserId).toMatch(/^U/);
    expect((await emu.sendUrlVerification()).verified).toBe(true);
    expect(lines.join("\n")).not.toContain(emu.app.clientSecret);
    expect(lines.join("\n")).not.toContain(emu.app.signingSecret);
  });
});

describe("the public home page", () => {
  const seeded = async (n: number): Promise<MemoryInstallationStore> => {
    const store = new MemoryInstallationStore();
    for (let i = 0; i < n; i++) {
      await store.save({
        teamId: `T${String(i).padStart(10, "0")}`,
        teamName: `Customer Workspace ${i}`,
        userId: `U${String(i).padStart(10, "0")}`,
        botToken: `xoxb-test-${i}`,
        botScopes: ["commands"],
        userScopes: [],
        isEnterpriseInstall: false,
        installedAt: 1732520000 + i,
        customValues: {},
      });
    }
    return store;
  };

  it("outside sandbox mode names no customer and reads nothing from the store", async () => {
    const store = await seeded(3);
    let listed = 0;
    const list = store.listWorkspaces.bind(store);
    store.listWorkspaces = (filter) => {
      listed++;
      return list(filter);
    };
    const emu = await startEmulator({ appUrl: "http://localhost:3000" });
    cleanup.push(() => emu.close());
    const app = createApp({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      signingSecret: emu.app.signingSecret,
      scopes: ["commands"],
      userScopes: [],
      apiUrl: emu.apiUrl,
      authorizeUrl: emu.authorizeUrl,
      installationStore: store,
      stateStore: new MemoryStateStore(),
      logger: jsonLogger(() => {}),
    });
    const res = await app(new Request("https://app.example.com/"));
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="installations-private"');
    expect(html).not.toMatch(/Customer Workspace|T0000000000|U0000000001|<table/);
    expect(listed).toBe(0);
  });

  it("in sandbox mode lists installations 25 to a page", async () => {
    const { running } = await start({}, { stores: memoryStores(await seeded(60)) });
    const page = async (q: string) => (await fetch(`${running.url}/${q}`)).text();
    const rows = (html: string) => (html.match(/<tr><td>/g) ?? []).length;
    const first = await page("");
    expect(rows(first)).toBe(25);
    expect(first).toContain("Page 1 of 3 (60 installations)");
    expect(first).toContain('href="/?page=2"');
    const last = await page("?page=3");
    expect(rows(last)).toBe(10);
    expect(last).toContain('href="/?page=2"');
    expect(last).not.toContain("Next");
    expect(rows(await page("?page=99"))).toBe(10);
    expect(await page("?page=abc")).toContain("Page 1 of 3");
  });
});
