/** The Node `http` adapter over real sockets. */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  clientErrorListener,
  type FetchHandler,
  type NodeAdapterOptions,
  toNodeListener,
} from "../../src/http/node.js";

const servers: Server[] = [];
afterEach(async () => {
  while (servers.length > 0) {
    const s = servers.pop()!;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
});

async function serve(handler: FetchHandler, options: NodeAdapterOptions = {}): Promise<string> {
  const server = createServer(toNodeListener(handler, options));
  server.on("clientError", clientErrorListener());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A raw request with node:http (exact headers, no fetch normalisation). */
function raw(
  url: string,
  init: {
    method?: string;
    path?: string;
    headers?: Record<string, string | string[]>;
    body?: string | Buffer;
    chunks?: Buffer[];
  } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string; rawHeaders: string[] }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: init.method ?? "GET",
        path: init.path ?? u.pathname + u.search,
        headers: init.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            rawHeaders: res.rawHeaders,
          }),
        );
      },
    );
    req.on("error", reject);
    if (init.chunks) {
      const write = async () => {
        for (const c of init.chunks!) {
          if (!req.write(c)) await new Promise((r) => req.once("drain", r));
        }
        req.end();
      };
      write().catch(reject);
    } else req.end(init.body);
  });
}

describe("toNodeListener", () => {
  it("keeps every Set-Cookie header", async () => {
    const url = await serve(() => {
      const headers = new Headers({ "content-type": "text/plain" });
      headers.append("Set-Cookie", "a=1; Path=/");
      headers.append("Set-Cookie", "b=2; Path=/; HttpOnly");
      headers.append("Set-Cookie", "slack-app-oauth-state=; Path=/; Max-Age=0");
      return new Response("ok", { headers });
    });
    const res = await raw(url);
    expect(res.headers["set-cookie"]).toEqual([
      "a=1; Path=/",
      "b=2; Path=/; HttpOnly",
      "slack-app-oauth-state=; Path=/; Max-Age=0",
    ]);
    expect(res.rawHeaders.filter((h) => h.toLowerCase() === "set-cookie")).toHaveLength(3);
    expect(res.body).toBe("ok");
  });

  it("passes the method, the body and headers in any case (repeated headers kept)", async () => {
    let seen:
      | { method: string; body: string; custom: string | null; accept: string | null; ct: string | null }
      | undefined;
    const url = await serve(async (request) => {
      seen = {
        method: request.method,
        body: await request.text(),
        custom: request.headers.get("x-custom-header"),
        accept: request.headers.get("ACCEPT"),
        ct: request.headers.get("Content-Type"),
      };
      return new Response(null, { status: 204 });
    });
    const res = await raw(`${url}/slack/events`, {
      method: "POST",
      headers: {
        "X-CuStOm-HeAdEr": ["one", "two"],
        aCcEpT: "text/html",
        "CONTENT-TYPE": "application/x-www-form-urlencoded",
      },
      body: "a=1&b=%C3%A9",
    });
    expect(res.status).toBe(204);
    expect(seen).toEqual({
      method: "POST",
      body: "a=1&b=%C3%A9",
      custom: "one, two",
      accept: "text/html",
      ct: "application/x-www-form-urlencoded",
    });
  });

  it("a body over maxBodyBytes → 413 (declared length), without calling the handler", async () => {
    let calls = 0;
    const url = await serve(
      () => {
        calls++;
        return new Response("ok");
      },
      { maxBodyBytes: 1024 },
    );
    const at = await raw(url, { method: "POST", body: Buffer.alloc(1024, 97) });
    expect(at.status).toBe(200);
    const over = await raw(url, { method: "POST", body: Buffer.alloc(1025, 97) });
    expect(over.status).toBe(413);
    expect(JSON.parse(over.body)).toEqual({ ok: false, error: "payload_too_large" });
    expect(calls).toBe(1);
  });

  it("a chunked body that grows past maxBodyBytes → 413, not a reset", async () => {
    let calls = 0;
    const url = await serve(
      () => {
        calls++;
        return new Response("ok");
      },
      { maxBodyBytes: 4096 },
    );
    const res = await raw(url, {
      method: "POST",
      headers: { "transfer-encoding": "chunked" },
      chunks: Array.from({ length: 8 }, () => Buffer.alloc(1024, 98)),
    });
    expect(res.status).toBe(413);
    expect(calls).toBe(0);
  });

  it("HEAD: the head of the GET reply, no body", async () => {
    let method = "";
    const url = await serve((request) => {
      method = request.method;
      return new Response("<p>a page</p>", { headers: { "content-type": "text/html; charset=utf-8", "x-extra": "1" } });
    });
    const res = await raw(url, { method: "HEAD" });
    expect(method).toBe("HEAD");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["x-extra"]).toBe("1");
    expect(res.body).toBe("");
    // The connection is still usable afterwards (no stray body bytes on it).
    const res2 = await fetch(url);
    expect(await res2.text()).toBe("<p>a page</p>");
  });

  describe("X-Forwarded-* only with trustProxy", () => {
    const echo: FetchHandler = (request) => new Response(request.url);
    const forwarded = { host: "internal:8080", "x-forwarded-proto": "https", "x-forwarded-host": "app.example.com" };

    it("ignored by default: the Host header and plain http", async () => {
      const url = await serve(echo);
      expect((await raw(`${url}/slack/install?x=1`, { headers: forwarded })).body).toBe(
        "http://internal:8080/slack/install?x=1",
      );
    });

    it("used with trustProxy (first value of a list)", async () => {
      const url = await serve(echo, { trustProxy: true });
      const res = await raw(`${url}/slack/install`, {
        headers: {
          ...forwarded,
          "x-forwarded-proto": "https, http",
          "x-forwarded-host": "app.example.com, proxy.local",
        },
      });
      expect(res.body).toBe("https://app.example.com/slack/install");
    });

    it("garbage forwarded values are ignored even with trustProxy", async () => {
      const url = await serve(echo, { trustProxy: true });
      const res = await raw(`${url}/p`, {
        headers: { host: "internal:8080", "x-forwarded-proto": "javascript", "x-forwarded-host": "evil.example/@x" },
      });
      expect(res.body).toBe("http://internal:8080/p");
    });

    it("an absolute-form or //-prefixed target cannot choose the host", async () => {
      const url = await serve(echo);
      expect((await raw(url, { path: "http://evil.example/slack/install?a=1", headers: { host: "app:1" } })).body).toBe(
        "http://app:1/slack/install?a=1",
      );
      expect((await raw(url, { path: "//evil.example/x", headers: { host: "app:1" } })).body).toBe(
        "http://app:1/evil.example/x",
      );
    });
  });

  it("a handler that throws → 500 JSON, reported to onError, no detail leaked", async () => {
    const reported: Array<{ error: unknown; url: string }> = [];
    const url = await serve(
      () => {
        throw new Error("secret detail xoxb-1-2-3");
      },
      { onError: (error, request) => reported.push({ error, url: request.url }) },
    );
    const res = await raw(`${url}/boom`);
    expect(res.status).toBe(500);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ ok: false, error: "internal_error" });
    expect(res.body).not.toContain("secret");
    expect(reported).toHaveLength(1);
    expect((reported[0]!.error as Error).message).toBe("secret detail xoxb-1-2-3");
    expect(reported[0]!.url).toMatch(/\/boom$/);
  });

  it("a rejected promise and a throwing onError still give 500", async () => {
    const url = await serve(
      async () => {
        throw new TypeError("nope");
      },
      {
        onError: () => {
          throw new Error("reporter down");
        },
      },
    );
    expect((await raw(url)).status).toBe(500);
  });

  it("streams a ReadableStream body", async () => {
    const url = await serve(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode("part1,"));
              c.enqueue(new TextEncoder().encode("part2"));
              c.close();
            },
          }),
        ),
    );
    expect((await raw(url)).body).toBe("part1,part2");
  });
});

describe("clientErrorListener", () => {
  it("a 100 KB URL → 414 reply (not a reset); huge headers → 431; the server keeps serving", async () => {
    const url = await serve(() => new Response("fine"));
    const long = await fetch(`${url}/slack/oauth_redirect?code=${"a".repeat(100 * 1024)}`);
    expect(long.status).toBe(414);
    expect(await long.text()).toContain("414");
    const fat = await fetch(url, { headers: { cookie: `a=${"b ".repeat(40 * 1024)}` } });
    expect(fat.status).toBe(431);
    expect(await (await fetch(url)).text()).toBe("fine");
  });

  it("garbage on the socket → 400 reply", async () => {
    const url = new URL(await serve(() => new Response("fine")));
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.write("NOT HTTP AT ALL\r\n\r\n"));
      let data = "";
      socket.on("data", (d) => {
        data += d.toString();
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});
