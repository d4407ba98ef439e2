// A tiny fake Slack Web API on 127.0.0.1 (random port) for the client's tests. Each test scripts the
// replies; every request is recorded with its headers and raw body.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, beforeEach } from "vitest";

export interface RecordedRequest {
  httpMethod: string;
  /** Path without the base, e.g. `oauth.v2.access`. */
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Reply = (req: RecordedRequest, res: ServerResponse) => void;

export interface FakeSlack {
  baseUrl: string;
  port: number;
  requests: RecordedRequest[];
  /** Replies used in order, one per request; the last one repeats. */
  script(...replies: Reply[]): void;
  close(): Promise<void>;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return (_req, res) => {
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };
}

export function text(status: number, body: string, contentType = "text/html"): Reply {
  return (_req, res) => {
    res.writeHead(status, { "Content-Type": contentType });
    res.end(body);
  };
}

/** Accepts the request, then drops the connection without a reply (ECONNRESET / "other side closed"). */
export const hangUp: Reply = (_req, res) => {
  res.socket?.destroy();
};

/** Never answers (until the server closes). */
export const never: Reply = () => {};

export const ok = (extra: Record<string, unknown> = {}): Reply => json(200, { ok: true, ...extra });

export async function startFakeSlack(): Promise<FakeSlack> {
  const requests: RecordedRequest[] = [];
  let replies: Reply[] = [ok()];
  let served = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "/";
      const recorded: RecordedRequest = {
        httpMethod: req.method ?? "",
        method: url.replace(/^\/api\//, "").replace(/\?.*$/, ""),
        url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(recorded);
      const reply = replies[Math.min(served, replies.length - 1)] ?? ok();
      served++;
      reply(recorded, res);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/`,
    port,
    requests,
    script(...r: Reply[]) {
      replies = r;
      served = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens (bound then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A clearly fake credential: a label and random hex, different on every run. */
export function fake(label: string): string {
  return `${label}${randomBytes(12).toString("hex")}`;
}

/** A logger that records every line and argument. */
export function recordingLogger(): {
  lines: string[];
  logger: {
    debug: (m: string, ...a: unknown[]) => void;
    info: (m: string, ...a: unknown[]) => void;
    warn: (m: string, ...a: unknown[]) => void;
    error: (m: string, ...a: unknown[]) => void;
  };
} {
  const lines: string[] = [];
  const rec =
    (level: string) =>
    (m: string, ...a: unknown[]) => {
      lines.push(`${level} ${m} ${a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" ")}`);
    };
  return { lines, logger: { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") } };
}

/**
 * One fake Slack for a whole test file: started before its tests, closed after them, its request log
 * emptied before each test. The returned object forwards to the running instance.
 */
export function useFakeSlack(): FakeSlack {
  let current: FakeSlack | undefined;
  const get = (): FakeSlack => {
    if (current === undefined) throw new Error("the fake Slack is not running (use it inside tests)");
    return current;
  };
  beforeAll(async () => {
    current = await startFakeSlack();
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(() => {
    if (current) current.requests.length = 0;
  });
  return {
    get baseUrl() {
      return get().baseUrl;
    },
    get port() {
      return get().port;
    },
    get requests() {
      return get().requests;
    },
    script: (...replies: Reply[]) => get().script(...replies),
    close: () => get().close(),
  };
}
