/**
 * Helpers for the emulator's tests: drive it with plain `fetch` over real sockets, and check what it
 * sends with node:crypto (never with the library's own verifier).
 */
import { createHash, createHmac, createPublicKey, createVerify, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { type Emulator, type EmulatorOptions, startEmulator } from "../../src/emulator/index.js";

// biome-ignore lint/suspicious/noExplicitAny: Slack replies are checked field by field in the tests.
export type Json = Record<string, any>;

const running: Array<{ close(): Promise<void> }> = [];

/** Starts an emulator that `closeAll()` stops. */
export async function start(options: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(options);
  running.push(emu);
  return emu;
}

export async function closeAll(): Promise<void> {
  while (running.length > 0) await running.pop()!.close();
}

/** GETs the consent page and POSTs the form back, as a plain HTTP client; returns the redirect. */
export async function consent(
  emu: Emulator,
  params: Record<string, string>,
  choice: { team?: string; user?: string; channel?: string; decision?: "allow" | "deny" } = {},
  path = "/oauth/v2/authorize",
): Promise<{ status: number; location: URL | null; html: string }> {
  const url = `${emu.url}${path}?${new URLSearchParams(params)}`;
  const page = await fetch(url, { redirect: "manual" });
  const html = await page.text();
  if (page.status !== 200) return { status: page.status, location: null, html };
  const form: Record<string, string> = { decision: choice.decision ?? "allow" };
  if (choice.team !== undefined) form.team = choice.team;
  if (choice.user !== undefined) form.user = choice.user;
  if (choice.channel !== undefined) form.channel = choice.channel;
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(form), redirect: "manual" });
  const location = res.headers.get("location");
  return { status: res.status, location: location ? new URL(location) : null, html: await res.text() };
}

/** Runs a consent and returns the code (asserting a redirect with a code). */
export async function authorize(
  emu: Emulator,
  params: Record<string, string>,
  choice: Parameters<typeof consent>[2] = {},
  path?: string,
): Promise<string> {
  const r = await consent(emu, params, choice, path);
  const code = r.location?.searchParams.get("code");
  if (r.status !== 302 || !code) throw new Error(`consent did not redirect with a code: ${r.status} ${r.html}`);
  return code;
}

/** Calls a Web API method with a form body (or JSON with `json: true`). */
export async function api(
  emu: Emulator,
  method: string,
  args: Record<string, unknown> = {},
  opts: { token?: string; json?: boolean; basic?: [string, string]; formToken?: boolean } = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const headers: Record<string, string> = {};
  if (opts.token && !opts.formToken) headers.authorization = `Bearer ${opts.token}`;
  if (opts.basic)
    headers.authorization = `Basic ${Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`).toString("base64")}`;
  let body: string;
  if (opts.json) {
    headers["content-type"] = "application/json; charset=utf-8";
    body = JSON.stringify(args);
  } else {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(args)) form.set(k, typeof v === "string" ? v : JSON.stringify(v));
    if (opts.token && opts.formToken) form.set("token", opts.token);
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = form.toString();
  }
  const res = await fetch(`${emu.apiUrl}${method}`, { method: "POST", headers, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

/** Exchanges a code with `oauth.v2.access` (credentials in the body). */
export async function exchange(emu: Emulator, code: string, extra: Record<string, string> = {}): Promise<Json> {
  const r = await api(emu, "oauth.v2.access", {
    client_id: emu.app.clientId,
    client_secret: emu.app.clientSecret,
    code,
    ...extra,
  });
  return r.body;
}

/** Installs the default app on a workspace and returns the oauth.v2.access reply. */
export async function install(
  emu: Emulator,
  params: Record<string, string> = {},
  choice: Parameters<typeof consent>[2] = {},
): Promise<Json> {
  const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands,chat:write", ...params }, choice);
  const reply = await exchange(emu, code);
  if (reply.ok !== true) throw new Error(`install failed: ${JSON.stringify(reply.error)}`);
  return reply;
}

/** A PKCE pair. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny app that records what the emulator sends it. */
export async function receiver(
  answer: (r: Received) => { status?: number; body?: string; contentType?: string } = () => ({}),
): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(r);
      const a = answer(r);
      res.writeHead(a.status ?? 200, { "content-type": a.contentType ?? "text/plain" });
      res.end(a.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  running.push(handle);
  return handle;
}

/** Checks Slack's v0 signature with node:crypto, independently of the library. */
export function slackSignatureValid(signingSecret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const timestamp = headers["x-slack-request-timestamp"];
  const signature = headers["x-slack-signature"];
  if (typeof timestamp !== "string" || typeof signature !== "string") return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

/** Verifies an RS256 JWT against a JWKS with node:crypto; returns header and claims, or throws. */
export function verifyJwt(jwt: string, jwks: { keys: Array<Record<string, unknown>> }): { header: Json; claims: Json } {
  const [h, p, s] = jwt.split(".");
  if (!h || !p || !s) throw new Error("not a JWT");
  const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as Json;
  if (header.alg !== "RS256") throw new Error("alg");
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid}`);
  const key = createPublicKey({ key: jwk as never, format: "jwk" });
  const ok = createVerify("RSA-SHA256").update(`${h}.${p}`).verify(key, Buffer.from(s, "base64url"));
  if (!ok) throw new Error("bad signature");
  return { header, claims: JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Json };
}

/** Polls until `fn` is truthy (for background deliveries). */
export async function until<T>(fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}
