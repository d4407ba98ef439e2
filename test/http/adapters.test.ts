/**
 * One end-to-end suite over each framework adapter (Express 5, Fastify 5, Hono on @hono/node-server):
 * an install through the emulator, a callback failure, a signed slash command through the reference
 * app's events handler (which opens a modal on the emulator), and a bad signature.
 */
import { createHmac } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReferenceSlackApp } from "../../src/app/slack-app.js";
import { createAuthorize } from "../../src/authorize/authorize.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import type { SlackRequestHandler } from "../../src/events/handler.js";
import { slackRouter } from "../../src/http/express.js";
import { slackPlugin } from "../../src/http/fastify.js";
import { type SlackRoutesOptions, slackRoutes, toFetchHandler } from "../../src/http/hono.js";
import { OAuthFlow } from "../../src/oauth/flow.js";
import { OpenIDConnectFlow } from "../../src/oidc/flow.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { CapturingLogger, callback, consent, startInstall } from "../oauth/flow-harness.js";

const TEAM = "T0000000001";

interface Started {
  url: string;
  close(): Promise<void>;
}

function listen(server: Server): Promise<Started> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Each adapter: mounts the routes, plus a plain JSON route of the app's own (to check isolation). */
const adapters: Record<string, (routes: SlackRoutesOptions) => Promise<Started>> = {
  express: async (routes) => {
    const app = express();
    app.use(slackRouter(routes));
    app.use(express.json());
    app.post("/own/echo", (req, res) => {
      res.json({ echoed: req.body });
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
    };
  },
  fastify: async (routes) => {
    const app = Fastify();
    await app.register(slackPlugin, routes);
    app.post("/own/echo", async (req) => ({ echoed: req.body }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  hono: async (routes) => {
    const app = new Hono();
    app.use(slackRoutes(routes));
    app.post("/own/echo", async (c) => c.json({ echoed: await c.req.json() }));
    return listen(createAdaptorServer({ fetch: app.fetch }) as Server);
  },
  "fetch (toFetchHandler on @hono/node-server)": async (routes) => {
    const handler = toFetchHandler(routes);
    return listen(
      createAdaptorServer({
        fetch: async (request: Request) => {
          if (new URL(request.url).pathname === "/own/echo") return Response.json({ echoed: await request.json() });
          return handler(request);
        },
      }) as Server,
    );
  },
};

describe.each(Object.entries(adapters))("adapter: %s", (_name, mount) => {
  let app: Started;
  let emu: Emulator;
  const store = new MemoryInstallationStore();
  const logger = new CapturingLogger();
  const ref: { flow?: OAuthFlow; events?: SlackRequestHandler; signIn?: OpenIDConnectFlow } = {};
  const signedIn: string[] = [];

  beforeAll(async () => {
    // The routes delegate to objects built once the app's URL (and so the emulator) is known.
    app = await mount({
      oauth: {
        installPath: "/slack/install",
        redirectPath: "/slack/oauth_redirect",
        handle: (r) => ref.flow!.handle(r),
      },
      oidc: {
        loginPath: "/slack/login",
        callbackPath: "/slack/login/callback",
        handle: (r) => ref.signIn!.handle(r),
      },
      events: { handle: (r) => ref.events!.handle(r) },
    });
    emu = await startEmulator({ appUrl: app.url });
    const api = new SlackApiClient({ baseUrl: emu.apiUrl, retryBaseDelayMs: 1, maxRetries: 1 });
    ref.flow = new OAuthFlow({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      scopes: ["commands", "chat:write"],
      redirectUri: `${app.url}/slack/oauth_redirect`,
      authorizationUrl: emu.authorizeUrl,
      stateStore: new MemoryStateStore(),
      installationStore: store,
      api,
      logger,
    });
    ref.signIn = new OpenIDConnectFlow({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      stateStore: new MemoryStateStore(),
      api,
      oidcBaseUrl: emu.url,
      redirectUri: `${app.url}/slack/login/callback`,
      logger,
      onSignIn: (ctx) => {
        signedIn.push(ctx.identity.userId);
        return new Response(null, {
          status: 303,
          headers: { Location: "/profile", "Set-Cookie": "app-session=test-session; Path=/; HttpOnly" },
        });
      },
    });
    ref.events = createReferenceSlackApp({
      signingSecret: emu.app.signingSecret,
      authorize: createAuthorize({ installationStore: store }),
      installationStore: store,
      api,
      logger,
    });
  });

  afterAll(async () => {
    await app?.close();
    await emu?.close();
  });

  it("installs through the emulator: install page → consent → callback with the cookie → saved", async () => {
    const started = await startInstall(app);
    expect(started.response.headers.getSetCookie().length).toBeGreaterThan(0);
    const location = await consent(started.authorizeUrl, { team: TEAM });
    expect(location.origin).toBe(app.url);
    const response = await callback(location, started.cookie);
    const html = await response.text();
    expect(response.status, html).toBe(200);
    // the state cookie is deleted on success: Set-Cookie survives the adapter
    expect(response.headers.getSetCookie().some((c) => /Max-Age=0/.test(c))).toBe(true);
    const saved = await store.findInstallation({ teamId: TEAM });
    expect(saved?.botToken).toMatch(/^xoxb-/);
    expect(saved?.teamId).toBe(TEAM);
  });

  it("a callback without state fails with its 4xx code", async () => {
    const response = await fetch(`${app.url}/slack/oauth_redirect?code=abc`, { redirect: "manual" });
    await response.text();
    expect(response.status).toBe(400);
    expect(response.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateMissing);
  });

  it("a signed slash command reaches the events handler byte-exact (200, a modal opened)", async () => {
    const before = emu.views().length;
    const answer = await emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal", text: "a+b & ü=%" });
    expect(answer.status, answer.body).toBe(200);
    expect(emu.views().length).toBe(before + 1);
  });

  it("a bad signature gets 401", async () => {
    const body = "command=%2Fopen-modal&team_id=T0000000001&user_id=U0000000002";
    const ts = Math.floor(Date.now() / 1000);
    const sig = `v0=${createHmac("sha256", "0".repeat(32)).update(`v0:${ts}:${body}`).digest("hex")}`;
    const response = await fetch(`${app.url}/slack/events`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": sig,
      },
      body,
    });
    await response.text();
    expect(response.status).toBe(401);
  });

  it("signs in with Slack: both Set-Cookie headers (state deletion, app session) survive the adapter", async () => {
    const login = await fetch(`${app.url}/slack/login`);
    const html = await login.text();
    expect(login.status, html).toBe(200);
    const href = /id="sign-in-with-slack" href="([^"]+)"/.exec(html)?.[1];
    expect(href).toBeDefined();
    const authorizeUrl = href!.replaceAll("&amp;", "&");
    const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    const location = await consent(authorizeUrl, { team: TEAM });
    const done = await fetch(location, { headers: { cookie }, redirect: "manual" });
    await done.text();
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/profile");
    const cookies = done.headers.getSetCookie();
    expect(cookies.some((c) => c.startsWith("app-session=test-session"))).toBe(true);
    expect(cookies.some((c) => /Max-Age=0/.test(c))).toBe(true);
    expect(signedIn.length).toBe(1);
  });

  it("HEAD on the install path: 200 with the page's head and no body", async () => {
    const response = await fetch(`${app.url}/slack/install`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toBe("");
  });

  it("other routes are left to the app (its own JSON body parsing still works); unknown paths 404", async () => {
    const response = await fetch(`${app.url}/own/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await response.json()).toEqual({ echoed: { a: 1 } });
    const missing = await fetch(`${app.url}/nowhere`);
    await missing.text();
    expect(missing.status).toBe(404);
  });
});

describe("express: a body parser mounted first", () => {
  it("answers 500 body_already_consumed and tells onError", async () => {
    const errors: unknown[] = [];
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(
      slackRouter({ events: { handle: () => new Response("should not run") } }, { onError: (e) => errors.push(e) }),
    );
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "command=%2Fx",
      });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ ok: false, error: "body_already_consumed" });
      expect(String(errors[0])).toMatch(/Mount slackRouter\(\) before any body parser/);
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
  });
});

describe("express: body limit", () => {
  it("a body over maxBodyBytes gets 413 and the handler never runs", async () => {
    let ran = false;
    const app = express();
    app.use(
      slackRouter(
        {
          events: {
            handle: () => {
              ran = true;
              return new Response("ok");
            },
          },
        },
        { maxBodyBytes: 16 },
      ),
    );
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: "POST", body: "x".repeat(64) });
      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({ ok: false, error: "payload_too_large" });
      expect(ran).toBe(false);
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
  });
});

describe("mounting on a sub-path / prefix", () => {
  const flowish = (name: string) => ({
    installPath: "/slack/install",
    redirectPath: "/slack/oauth_redirect",
    handle: async (r: Request) => {
      const path = new URL(r.url).pathname;
      return path.startsWith("/slack/") ? new Response(`${name} saw ${path}`) : undefined;
    },
  });

  it("express: app.use('/slack', slackRouter(...)) still routes full paths", async () => {
    const app = express();
    app.use("/slack", slackRouter({ oauth: flowish("express") }));
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/slack/install?x=1`);
      expect(await response.text()).toBe("express saw /slack/install");
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
  });

  it("fastify: register(slackPlugin, { prefix: '/slack' }) registers the flows' full paths", async () => {
    const app = Fastify();
    await app.register(slackPlugin, { prefix: "/slack", oauth: flowish("fastify") });
    try {
      const response = await app.inject({ method: "GET", url: "/slack/oauth_redirect?code=1" });
      expect(response.body).toBe("fastify saw /slack/oauth_redirect");
      expect((await app.inject({ method: "GET", url: "/slack/slack/install" })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it("fastify: a prefix the flows' paths do not start with is refused at registration", async () => {
    const app = Fastify();
    await expect(app.register(slackPlugin, { prefix: "/other", oauth: flowish("fastify") })).rejects.toThrow(
      /does not start with the plugin's prefix/,
    );
    await app.close().catch(() => undefined);
  });

  it("fastify: a POST without a content type still reaches the events endpoint with its raw bytes", async () => {
    const app = Fastify();
    await app.register(slackPlugin, {
      events: { handle: async (r: Request) => new Response(`got ${(await r.arrayBuffer()).byteLength} bytes`) },
    });
    try {
      const response = await app.inject({ method: "POST", url: "/slack/events", payload: Buffer.from("a=1&b=2") });
      expect(response.body).toBe("got 7 bytes");
    } finally {
      await app.close();
    }
  });
});
