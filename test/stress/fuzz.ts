/**
 * The HTTP fuzzer behind `npm run fuzz` and its slice in `npm test`: fast-check builds raw HTTP/1.1
 * requests (methods, known and unknown routes, hostile queries, cookies, Slack signature headers, JSON /
 * form / binary bodies, chunked bodies, wrong lengths, garbage) and sends each over its own socket to a
 * target running in a process of its own: the reference server in production mode, in sandbox mode, and
 * the emulator. It counts 5xx replies, hangs (no reply and the socket still open after `hangMs`) and
 * crashes (the target process exiting), and keeps the requests that caused them. A hang is no reply
 * within 15 s: the server answers a stalled request 408 within its 2 s read timeouts here, the emulator
 * within its 10 s body timeout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import fc from "fast-check";

export type TargetKind = "production" | "sandbox" | "emulator";
export const TARGET_KINDS: TargetKind[] = ["production", "sandbox", "emulator"];

/** A target process: its URL and how it ended, if it did. */
export interface Target {
  kind: TargetKind;
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Set when the process exited (a crash, unless we stopped it). */
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stderr: string[];
  stop(): Promise<void>;
}

const HERE = fileURLToPath(new URL(".", import.meta.url));

/**
 * Starts a target in its own process (`target.ts`). `env` adds settings (state TTL, limits…); the
 * fuzzer raises the install-start limit explicitly, since every request comes from 127.0.0.1.
 */
export async function spawnTarget(kind: TargetKind, env: Record<string, string> = {}): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), `slack-oauth-kit-stress-${kind}-`));
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "target.ts"), kind], {
    env: { ...process.env, DATABASE_URL: `sqlite:${join(dataDir, "app.db")}`, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (c: string) => {
    stderr.push(c);
    if (stderr.length > 200) stderr.shift();
  });
  const target = {
    kind,
    child,
    stderr,
    exited: undefined as Target["exited"],
  } as Target;
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      if (!stopping) target.exited = { code, signal };
      resolve();
    });
  });
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    child.once("exit", (code) =>
      reject(new Error(`${kind} target exited (${code}) before listening: ${stderr.join("")}`)),
    );
  });
  const info = JSON.parse(first) as { url: string; pid: number };
  target.url = info.url.replace("://localhost:", "://127.0.0.1:");
  target.port = Number(new URL(target.url).port);
  target.pid = info.pid;
  target.stop = async () => {
    stopping = target.exited === undefined;
    if (target.exited === undefined) child.kill("SIGKILL");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  return target;
}

/** What one raw request got. */
export interface RawReply {
  /** The status code, when a status line came back. */
  status: number | undefined;
  /** No reply and the socket still open after `hangMs`. */
  hung: boolean;
  /** Milliseconds until the reply's head (or the close, or the hang). */
  ms: number;
}

/** Sends `bytes` on a new connection from `localAddress` and waits for the reply's head (or a close). */
export function rawRequest(
  port: number,
  bytes: Uint8Array,
  options: { hangMs?: number; localAddress?: string } = {},
): Promise<RawReply> {
  const hangMs = options.hangMs ?? 8000;
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: options.localAddress ?? "127.0.0.1" });
    let head = "";
    let done = false;
    const finish = (reply: Omit<RawReply, "ms">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...reply, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish({ status: statusOf(head), hung: true }), hangMs);
    socket.on("error", () => finish({ status: statusOf(head), hung: false }));
    socket.on("close", () => finish({ status: statusOf(head), hung: false }));
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      // An interim reply (100 Continue) is not the answer: wait for the final one.
      while (/^HTTP\/1\.[01] 1\d\d /.test(head) && head.includes("\r\n\r\n")) {
        head = head.slice(head.indexOf("\r\n\r\n") + 4);
      }
      if (head.includes("\r\n\r\n") || head.length > 65536) finish({ status: statusOf(head), hung: false });
    });
    socket.on("connect", () => socket.write(bytes));
  });
}

function statusOf(head: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  return m ? Number(m[1]) : undefined;
}

// ─── Request arbitraries ──────────────────────────────────────────────────────────────────────────────

const ROUTES = [
  "/",
  "/healthz",
  "/slack/install",
  "/slack/oauth_redirect",
  "/slack/events",
  "/slack/login",
  "/slack/login/callback",
  "/profile",
  "/logout",
  "/metrics",
  "/favicon.ico",
  // the emulator's
  "/api/oauth.v2.access",
  "/api/oauth.access",
  "/api/auth.test",
  "/api/auth.revoke",
  "/api/chat.postMessage",
  "/api/views.open",
  "/api/openid.connect.token",
  "/api/openid.connect.userInfo",
  "/api/apps.uninstall",
  "/oauth/v2/authorize",
  "/oauth/authorize",
  "/openid/connect/authorize",
  "/openid/connect/keys",
  "/_emulator/state",
  "/_emulator/reset",
  "/_emulator/events",
  "/avatars/U0000000001.png",
];

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", "..", "../../etc/passwd", "%00", "%ff%fe", "T0000000001", "xoxb-1-2-3", "null", "[]", "{}"),
  fc.nat({ max: 5000 }).map((n) => "A".repeat(n)),
);
const STATE_LIKE = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
  fc.string({ maxLength: 60 }),
  fc.constant("x".repeat(43)),
);
const queryParam = fc.tuple(
  fc.constantFrom("code", "state", "error", "team", "scope", "client_id", "redirect_uri", "nonce", "returnTo", "x"),
  fc.oneof(text, STATE_LIKE),
);
const path = fc
  .tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...ROUTES) },
      { weight: 1, arbitrary: text.map((t) => `/${encodeURIComponent(t)}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("*", "//evil.example/x", "http://x/y", "/%2e%2e/%2e%2e/", "/slack//install"),
      },
    ),
    fc.array(queryParam, { maxLength: 5 }),
    fc.boolean(),
  )
  .map(([p, params, raw]) => {
    if (params.length === 0) return p;
    const q = params.map(([k, v]) => (raw ? `${k}=${v.replace(/[\s\r\n]/g, "")}` : `${k}=${encodeURIComponent(v)}`));
    return `${p}?${q.join("&")}`;
  })
  // a request target may not hold spaces or line breaks (else it is a different request line)
  .map((p) => p.replace(/[ \r\n]/g, "%20"));

const header = fc.oneof(
  fc.tuple(
    fc.constant("Cookie"),
    fc.oneof(
      STATE_LIKE.map((s) => `slack-app-oauth-state=${s}`),
      text,
    ),
  ),
  fc.tuple(
    fc.constant("Content-Type"),
    fc.constantFrom(
      "application/json",
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=x",
      "application/json; charset=utf-16",
      "garbage",
    ),
  ),
  fc.tuple(fc.constant("X-Slack-Signature"), fc.oneof(fc.stringMatching(/^v0=[0-9a-f]{64}$/), text)),
  fc.tuple(fc.constant("X-Slack-Request-Timestamp"), fc.oneof(fc.integer({ min: -1e12, max: 1e12 }).map(String), text)),
  fc.tuple(fc.constantFrom("Origin", "Sec-Fetch-Site", "Referer", "Accept", "Authorization", "X-Request-Id"), text),
  fc.tuple(fc.constantFrom("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"), text),
  fc.tuple(fc.constant("Expect"), fc.constantFrom("100-continue", "nonsense")),
);

const body = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.json({ maxDepth: 3 }).map((j) => new TextEncoder().encode(j)),
  fc
    .dictionary(fc.constantFrom("payload", "command", "text", "token", "team_id", "code", "state", "x"), text)
    .map((d) => new TextEncoder().encode(new URLSearchParams(d).toString())),
  fc
    .constantFrom(
      '{"type":"url_verification","challenge":"abc"}',
      '{"type":"event_callback","team_id":"T0000000001","event":{"type":"app_uninstalled"}}',
      "payload=%7B%22type%22%3A%22view_submission%22%7D",
      '{"a":'.repeat(2000),
    )
    .map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 2000 }),
);

/** One raw request as bytes, with a short description for the report. */
export interface FuzzCase {
  bytes: Uint8Array;
  describe: string;
}

/** Raw HTTP/1.1 requests: mostly well-framed with hostile content, some badly framed, some garbage. */
export const requestArbitrary: fc.Arbitrary<FuzzCase> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .record({
        method: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom("GET", "POST", "HEAD") },
          { weight: 2, arbitrary: fc.constantFrom("PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT") },
          { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,12}$/) },
        ),
        path,
        headers: fc.array(header, { maxLength: 6 }),
        body,
        framing: fc.oneof(
          { weight: 8, arbitrary: fc.constant("length" as const) },
          { weight: 2, arbitrary: fc.constant("chunked" as const) },
          { weight: 1, arbitrary: fc.constant("short" as const) },
          { weight: 1, arbitrary: fc.constant("both" as const) },
        ),
        host: fc.constantFrom("localhost", "127.0.0.1", "", "evil.example", "localhost:1"),
      })
      .map(({ method, path: target, headers, body: b, framing, host }) => {
        const lines = [`${method} ${target} HTTP/1.1`];
        if (host) lines.push(`Host: ${host}`);
        for (const [name, value] of headers) lines.push(`${name}: ${value.replace(/[\r\n]/g, "")}`);
        lines.push("Connection: close");
        let payload: Uint8Array = b;
        if (framing === "length" || framing === "both") lines.push(`Content-Length: ${b.length}`);
        if (framing === "short") lines.push(`Content-Length: ${b.length + 1 + (b.length % 7)}`);
        if (framing === "chunked" || framing === "both") {
          lines.push("Transfer-Encoding: chunked");
          const size = b.length.toString(16);
          payload = concat(
            b.length > 0 ? enc(`${size}\r\n`) : new Uint8Array(0),
            b,
            enc(b.length > 0 ? "\r\n0\r\n\r\n" : "0\r\n\r\n"),
          );
        }
        const head = enc(`${lines.join("\r\n")}\r\n\r\n`);
        return {
          bytes: concat(head, payload),
          describe: `${method} ${target.slice(0, 200)} [${framing}, ${b.length} B body, ${headers.map((h) => h[0]).join(",")}]`,
        };
      }),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 600 }).map((bytes) => ({
      bytes: concat(bytes, enc("\r\n\r\n")),
      describe: `garbage ${bytes.length} B`,
    })),
  },
);

function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ─── The run ──────────────────────────────────────────────────────────────────────────────────────────

/** What a fuzz run against one target found. */
export interface FuzzReport {
  kind: TargetKind;
  cases: number;
  seed: number;
  statuses: Record<string, number>;
  serverErrors: Array<{ status: number; request: string }>;
  hangs: string[];
  crash: string | undefined;
  /** Connections closed without a reply (garbage Node drops); counted, not failures. */
  dropped: number;
  /** The first few of them. */
  droppedSamples: string[];
  ms: number;
}

/** The environment every fuzz target runs with: short read timeouts, no install-start limit. */
export const FUZZ_TARGET_ENV: Record<string, string> = {
  // Every request comes from 127.0.0.1: the install-start limit is raised explicitly.
  INSTALL_RATE_LIMIT: "0",
  HEADERS_TIMEOUT_SECONDS: "2",
  BODY_TIMEOUT_SECONDS: "2",
};

/** Runs `cases` requests from `requestArbitrary` (seeded) against a started target. */
export async function fuzzTarget(
  target: Target,
  options: { cases: number; seed: number; hangMs?: number; concurrency?: number; onProgress?: (done: number) => void },
): Promise<FuzzReport> {
  const started = performance.now();
  const report: FuzzReport = {
    kind: target.kind,
    cases: 0,
    seed: options.seed,
    statuses: {},
    serverErrors: [],
    hangs: [],
    crash: undefined,
    dropped: 0,
    droppedSamples: [],
    ms: 0,
  };
  // The cases are drawn up front from the seed (the same seed gives the same requests), then sent
  // `concurrency` at a time, each on its own connection.
  const all = fc.sample(requestArbitrary, { numRuns: options.cases, seed: options.seed });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length && report.crash === undefined) {
      const c = all[next++] as FuzzCase;
      const reply = await rawRequest(target.port, c.bytes, { hangMs: options.hangMs ?? 15_000 });
      report.cases++;
      const key = reply.status === undefined ? "none" : String(reply.status);
      report.statuses[key] = (report.statuses[key] ?? 0) + 1;
      if (reply.hung) report.hangs.push(c.describe);
      else if (reply.status === undefined && report.dropped++ < 5) report.droppedSamples.push(c.describe);
      if (reply.status !== undefined && reply.status >= 500) {
        report.serverErrors.push({ status: reply.status, request: c.describe });
      }
      if (target.exited !== undefined) {
        report.crash = `${c.describe}: exited with ${target.exited.code ?? target.exited.signal}\n${target.stderr.join("").slice(-2000)}`;
      }
      options.onProgress?.(report.cases);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  report.ms = performance.now() - started;
  return report;
}

/** One line per report, for the console and the note. */
export function formatReport(r: FuzzReport): string {
  const statuses = Object.entries(r.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}:${n}`)
    .join(" ");
  return `${r.kind.padEnd(10)} cases=${r.cases} seed=${r.seed} 5xx=${r.serverErrors.length} hangs=${r.hangs.length} crashes=${r.crash ? 1 : 0} dropped=${r.dropped} ${(r.ms / 1000).toFixed(1)}s  [${statuses}]`;
}
