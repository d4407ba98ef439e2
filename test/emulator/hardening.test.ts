/**
 * The emulator against what a hostile or merely unusual client sends: request targets starting with `//`,
 * test-API calls from web pages of other sites (or a rebound DNS name), Sign in with Slack scopes joined with
 * commas (slack_sdk does), and avatars that must not come from the internet.
 */
import { request } from "node:http";
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { api, authorize, closeAll, install, type Json, start, verifyJwt } from "./helpers.js";

/** One raw HTTP request (the target sent exactly as given, any Host and Origin): status and body. */
function raw(
  emu: Emulator,
  target: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string; type: string | undefined }> {
  const { port } = new URL(emu.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: Number(port), method: init.method ?? "GET", path: target, headers: init.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            type: res.headers["content-type"],
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

let emu: Emulator;
beforeAll(async () => {
  emu = await start({ appUrl: "http://localhost:3000" });
});
afterAll(closeAll);

describe("request targets starting with //", () => {
  it("answer 404, including the ones that do not parse as a URL at all", async () => {
    for (const target of ["//", "//[", "//evil.example/api/auth.test", "//_emulator/state", "/\\evil.example/"]) {
      const r = await raw(emu, target);
      expect(r.status, target).toBe(404);
    }
  });

  it("never a 5xx over generated targets (fast-check)", async () => {
    const chars = fc.constantFrom(..."/[]@:%.?#&=_-~!$'()*+,;abcAZ09".split(""));
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: chars, maxLength: 24 }), async (tail) => {
        const r = await raw(emu, `//${tail}`);
        expect(r.status, `//${tail}`).toBe(404);
      }),
      { numRuns: 200 },
    );
  });
});

describe("the /_emulator/ test API only answers the emulator's own pages and clients", () => {
  const own = () => new URL(emu.url);

  it("a cross-site text/plain POST (no preflight) to /_emulator/uninstall is refused and deletes nothing", async () => {
    await install(emu, {}, { team: "T0000000003" });
    const before = emu.world.installations().filter((i) => i.teamId === "T0000000003").length;
    expect(before).toBe(1);
    for (const origin of ["https://evil.example", "null", `https://127.0.0.1:${own().port}`, "http://127.0.0.1:1"]) {
      const r = await raw(emu, "/_emulator/uninstall", {
        method: "POST",
        headers: { origin, "content-type": "text/plain", host: own().host },
        body: JSON.stringify({ teamId: "T0000000003" }),
      });
      expect(r.status, origin).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: "forbidden" });
    }
    expect(emu.world.installations().filter((i) => i.teamId === "T0000000003")).toHaveLength(1);
  });

  it("a Host that is not one of its names (DNS rebinding) is refused, even for reads", async () => {
    for (const host of [
      `evil.example:${own().port}`,
      "127.0.0.1",
      `127.0.0.1:${Number(own().port) + 1}`,
      `0.0.0.0:${own().port}`,
    ]) {
      const r = await raw(emu, "/_emulator/state", { headers: { host } });
      expect(r.status, host).toBe(403);
    }
  });

  it("its own names are served: 127.0.0.1, localhost and [::1] with its port, same-origin pages, plain clients", async () => {
    const port = own().port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      const r = await raw(emu, "/_emulator/counters", { headers: { host } });
      expect(r.status, host).toBe(200);
    }
    const sameOrigin = await raw(emu, "/_emulator/counters", {
      headers: { host: `localhost:${port}`, origin: `http://localhost:${port}` },
    });
    expect(sameOrigin.status).toBe(200);
    // fetch from Node sends no Origin: the documented way to drive the test API keeps working.
    expect((await fetch(`${emu.url}/_emulator/calls`)).status).toBe(200);
    const r = await fetch(`${emu.url}/_emulator/uninstall`, {
      method: "POST",
      body: JSON.stringify({ teamId: "T0000000003" }),
    });
    expect(r.status).toBe(200);
  });
});

describe("Sign in with Slack scopes", () => {
  it("accepts comma-separated scopes (slack_sdk joins them with commas) as well as spaces", async () => {
    for (const scope of ["openid,profile,email", "openid, email,profile", "openid profile email"]) {
      const code = await authorize(
        emu,
        {
          response_type: "code",
          client_id: emu.app.clientId,
          scope,
          redirect_uri: "http://localhost:3000/slack/login/callback",
          nonce: "n",
        },
        { team: "T0000000002" },
        "/openid/connect/authorize",
      );
      const r = await api(emu, "openid.connect.token", {
        client_id: emu.app.clientId,
        client_secret: emu.app.clientSecret,
        code,
        redirect_uri: "http://localhost:3000/slack/login/callback",
      });
      expect(r.body.ok, scope).toBe(true);
      const keys = (await (await fetch(`${emu.url}/openid/connect/keys`)).json()) as {
        keys: Array<Record<string, unknown>>;
      };
      const { claims } = verifyJwt(r.body.id_token, keys);
      expect(claims, scope).toMatchObject({ email: "dave@globex.example.com", name: "Dave Admin" });
    }
  });

  it("still requires openid, and still refuses other scopes", async () => {
    const page = await fetch(
      `${emu.url}/openid/connect/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: emu.app.clientId,
        scope: "profile,email",
        redirect_uri: "http://localhost:3000/slack/login/callback",
      })}`,
    );
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("requires the openid scope");
  });
});

describe("avatars come from the emulator, never from the internet", () => {
  it("picture and user_image_* / team_image_* point at the emulator, which serves them", async () => {
    const code = await authorize(
      emu,
      {
        response_type: "code",
        client_id: emu.app.clientId,
        scope: "openid profile",
        redirect_uri: "http://localhost:3000/slack/login/callback",
      },
      { team: "T0000000002", user: "U0000000005" },
      "/openid/connect/authorize",
    );
    const token = await api(emu, "openid.connect.token", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code,
      redirect_uri: "http://localhost:3000/slack/login/callback",
    });
    const info = (await api(emu, "openid.connect.userInfo", {}, { token: token.body.access_token })).body as Json;
    const urls = Object.entries(info)
      .filter(([k]) => k === "picture" || /image_\d+$/.test(k))
      .map(([, v]) => v as string);
    expect(urls.length).toBe(1 + 6 + 7);
    for (const u of urls) expect(u.startsWith(`${emu.url}/avatars/`), u).toBe(true);
    expect(JSON.stringify(info)).not.toContain("slack-edge");

    const avatar = await fetch(info.picture as string);
    expect(avatar.status).toBe(200);
    expect(avatar.headers.get("content-type")).toBe("image/svg+xml");
    const svg = await avatar.text();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="512" height="512"/);
    expect(svg).toContain(">EE</text>"); // Erin Example
    expect(svg).not.toMatch(/href|<script/i);
    const team = await fetch(info["https://slack.com/team_image_88"] as string);
    expect(await team.text()).toContain(">G</text>"); // Globex
  });

  it("unknown ids, sizes and shapes are 404", async () => {
    for (const path of ["/avatars/U9999999999_72.svg", "/avatars/U0000000001_4096.svg", "/avatars/../x.svg"]) {
      expect((await fetch(`${emu.url}${path}`)).status, path).toBe(404);
    }
  });
});

describe("a client that sends part of a request and stops", () => {
  it("gets 408 after headersTimeoutMs and the connection is closed (not Node's 60 s)", async () => {
    const emu = await startEmulator({ headersTimeoutMs: 1000 });
    try {
      const port = new URL(emu.url).port;
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: Number(port) });
        let data = "";
        socket.on("data", (c) => {
          data += c.toString("latin1");
        });
        socket.on("close", () => resolve(data));
        socket.on("error", reject);
        socket.on("connect", () => socket.write("G")); // a method's first letter, then nothing
      });
      // Without the emulator's own timeout Node would wait 60 s: past this test's time limit.
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await emu.close();
    }
  });

  it("refuses a headersTimeoutMs that is not a positive whole number", async () => {
    await expect(startEmulator({ headersTimeoutMs: 0 })).rejects.toMatchObject({
      code: "SLACK_OAUTH_INVALID_ARGUMENT",
    });
    await expect(startEmulator({ headersTimeoutMs: 1.5 })).rejects.toThrow(/headersTimeoutMs/);
  });
});
