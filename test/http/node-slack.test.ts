import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SlackRequestHandler } from "../../src/events/handler.js";
import { toNodeSlackListener } from "../../src/http/node.js";
import { silentLogger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";

const SECRET = `test-secret-${Date.now()}`;
const signer = new SignatureSigner(SECRET);
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: SlackRequestHandler): Promise<string> {
  const server = createServer(toNodeSlackListener(handler, { maxBodyBytes: 4096 }));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
}

const command = "command=%2Fhello&team_id=T1&user_id=U1&text=hi&trigger_id=1.2.3";

describe("toNodeSlackListener (the Node fast path of the events endpoint)", () => {
  it("answers like handle(): handler replies, 401 unsigned, 405 GET, 413 oversize, 400 malformed", async () => {
    const seen: { url: string; contentType: string | null }[] = [];
    const handler = new SlackRequestHandler({
      signingSecret: SECRET,
      logger: silentLogger,
      onCommand: (req) => {
        seen.push({ url: req.request.url, contentType: req.request.headers.get("content-type") });
        return { response_type: "ephemeral", text: `you said ${String(req.body.text)}` };
      },
    });
    const url = await serve(handler);
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    const ok = await fetch(url, { method: "POST", headers: { ...form, ...signer.headers(command) }, body: command });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await ok.json()).toEqual({ response_type: "ephemeral", text: "you said hi" });
    // req.request is built on demand, with the real URL and headers.
    expect(seen).toEqual([{ url, contentType: "application/x-www-form-urlencoded" }]);

    expect((await fetch(url, { method: "POST", headers: form, body: command })).status).toBe(401);
    expect(
      (await fetch(url, { method: "POST", headers: { ...form, ...signer.headers(command, 1) }, body: command })).status,
    ).toBe(401);
    expect((await fetch(url)).status).toBe(405);
    const big = `command=%2Fx&text=${"a".repeat(5000)}`;
    expect((await fetch(url, { method: "POST", headers: { ...form, ...signer.headers(big) }, body: big })).status).toBe(
      413,
    );
    const bad = "{not json";
    const badRes = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...signer.headers(bad) },
      body: bad,
    });
    expect(badRes.status).toBe(400);
    expect(await badRes.json()).toEqual({ ok: false, error: "invalid_json" });
  });

  it("passes a handler's own Response through, headers and body included", async () => {
    const handler = new SlackRequestHandler({
      signingSecret: SECRET,
      logger: silentLogger,
      onCommand: () =>
        new Response("custom", { status: 202, headers: { "X-Custom": "yes", "Content-Type": "text/plain" } }),
    });
    const url = await serve(handler);
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...signer.headers(command) },
      body: command,
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-custom")).toBe("yes");
    expect(await res.text()).toBe("custom");
  });

  it("handleRaw and handle give the same answers", async () => {
    const handler = new SlackRequestHandler({ signingSecret: SECRET, logger: silentLogger, onCommand: () => "ok" });
    const headers = { "content-type": "application/x-www-form-urlencoded", ...lower(signer.headers(command)) };
    const raw = await handler.handleRaw({
      method: "POST",
      headers,
      body: new TextEncoder().encode(command),
      url: "http://localhost/slack/events",
    });
    const web = await handler.handle(
      new Request("http://localhost/slack/events", { method: "POST", headers, body: command }),
    );
    expect(raw.status).toBe(web.status);
    expect(raw.body).toBe(await web.text());
    const unsigned = await handler.handleRaw({
      method: "POST",
      headers: {},
      body: new Uint8Array(0),
      url: "http://x/",
    });
    expect(unsigned.status).toBe(401);
  });

  it.each([true, false])(
    "coalesceWrites %s: 200 concurrent requests on 16 keep-alive connections each get their own reply",
    async (coalesceWrites) => {
      const handler = new SlackRequestHandler({
        signingSecret: SECRET,
        logger: silentLogger,
        onCommand: async (req) => {
          // Some replies are ready at once, some after a timer: both kinds must find their socket.
          if (Number(req.body.text) % 3 === 0) await new Promise((r) => setTimeout(r, 1));
          return { text: `echo ${String(req.body.text)}` };
        },
      });
      const server = createServer(toNodeSlackListener(handler, { coalesceWrites }));
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      try {
        const send = (i: number) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const body = `command=%2Fecho&team_id=T1&user_id=U1&text=${i}`;
            const req = request(url, {
              method: "POST",
              agent,
              headers: { "Content-Type": "application/x-www-form-urlencoded", ...signer.headers(body) },
            });
            req.on("error", reject);
            req.on("response", (res) => {
              let text = "";
              res.setEncoding("utf8");
              res.on("data", (c: string) => {
                text += c;
              });
              res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
            });
            req.end(body);
          });
        const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => send(i)));
        replies.forEach((r, i) => {
          expect(r.status).toBe(200);
          expect(JSON.parse(r.body)).toEqual({ text: `echo ${i}` });
        });
      } finally {
        agent.destroy();
        server.closeAllConnections();
      }
    },
  );

  it("reads the Slack headers in any case from a plain record; the lower-case spelling wins", async () => {
    const handler = new SlackRequestHandler({ signingSecret: SECRET, logger: silentLogger, onCommand: () => "ok" });
    const body = new TextEncoder().encode(command);
    const signed = signer.headers(command);
    const mixed = await handler.handleRaw({
      method: "POST",
      url: "https://example.com/slack/events",
      body,
      headers: { "CONTENT-TYPE": "application/x-www-form-urlencoded", ...signed },
    });
    expect(mixed.status).toBe(200);
    const both = await handler.handleRaw({
      method: "POST",
      url: "https://example.com/slack/events",
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-signature": signed["X-Slack-Signature"],
        "X-Slack-Signature": "v0=forged",
        "x-slack-request-timestamp": signed["X-Slack-Request-Timestamp"],
        "X-Slack-Retry-Num": ["2", "3"],
      },
    });
    expect(both.status).toBe(200);
  });

  it("answers 500 for an endpoint that throws at once, and serves one that answers without a promise", async () => {
    const throwing = createServer(
      toNodeSlackListener({
        handleRaw: () => {
          throw new Error("boom");
        },
      }),
    );
    const plain = createServer(
      toNodeSlackListener({
        handleRaw: (() => ({ status: 200, headers: { "content-type": "text/plain" }, body: "plain" })) as never,
      }),
    );
    for (const s of [throwing, plain]) {
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    }
    const url = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/slack/events`;
    for (const method of ["GET", "POST"]) {
      const bad = await fetch(url(throwing), { method, ...(method === "POST" ? { body: "x" } : {}) });
      expect(bad.status).toBe(500);
      expect(await bad.json()).toEqual({ ok: false, error: "internal_error" });
      const ok = await fetch(url(plain), { method, ...(method === "POST" ? { body: "x" } : {}) });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("plain");
    }
  });
});

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
