/**
 * Test harness for the install flow over real sockets: an {@link OAuthFlow} behind `toNodeListener` on
 * 127.0.0.1:0, the Slack emulator pointed at it, a counting installation store, a recording state store
 * and a logger that keeps every line (to check that no secret reaches a log).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import { type Emulator, type EmulatorOptions, startEmulator } from "../../src/emulator/index.js";
import { clientErrorListener, toNodeListener } from "../../src/http/node.js";
import type { Installation } from "../../src/model/installation.js";
import { OAuthFlow, type OAuthFlowOptions } from "../../src/oauth/flow.js";
import { renderFailurePage } from "../../src/oauth/pages.js";
import type { Logger } from "../../src/redact.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { cookieNameFor, STATE_COOKIE_NAME } from "../../src/state/cookie.js";
import type { ConsumeResult, StateStatus, StateStore } from "../../src/state/state.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";

/** Keeps every log line (level + message + arguments, as written). */
export class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  #push(level: string, message: string, args: unknown[]): void {
    this.lines.push(
      `${level} ${message}${args.length ? ` ${args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : JSON.stringify(a))).join(" ")}` : ""}`,
    );
  }
  debug(m: string, ...a: unknown[]): void {
    this.#push("debug", m, a);
  }
  info(m: string, ...a: unknown[]): void {
    this.#push("info", m, a);
  }
  warn(m: string, ...a: unknown[]): void {
    this.#push("warn", m, a);
  }
  error(m: string, ...a: unknown[]): void {
    this.#push("error", m, a);
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

/** An installation store that counts saves (and can be told to fail them). */
export class CountingStore extends MemoryInstallationStore implements InstallationStore {
  saves = 0;
  attempts = 0;
  failWith: ((i: Installation) => Error) | undefined;
  readonly saved: Installation[] = [];
  override async save(installation: Installation): Promise<void> {
    this.attempts++;
    if (this.failWith) throw this.failWith(installation);
    await super.save(installation);
    this.saves++;
    this.saved.push(installation);
  }
}

/** A state store wrapper that records the data issued with each state (to look for the PKCE verifier). */
export class RecordingStateStore implements StateStore {
  readonly issued = new Map<string, Record<string, unknown> | undefined>();
  constructor(readonly inner: StateStore) {}
  async issue(data?: Record<string, unknown>): Promise<string> {
    const state = await this.inner.issue(data);
    this.issued.set(state, data === undefined ? undefined : structuredClone(data));
    return state;
  }
  consume(state: string): Promise<Record<string, unknown> | undefined> {
    return this.inner.consume(state);
  }
  async consumeDetailed(state: string): Promise<ConsumeResult> {
    if (this.inner.consumeDetailed) return this.inner.consumeDetailed(state);
    const data = await this.inner.consume(state);
    return data === undefined ? { ok: false, reason: "unknown" } : { ok: true, data };
  }
  async inspect(state: string): Promise<StateStatus> {
    if (!this.inner.inspect) throw new Error("the wrapped state store cannot inspect");
    return this.inner.inspect(state);
  }
}

export interface Harness {
  /** The app's base URL, `http://127.0.0.1:PORT`. */
  url: string;
  redirectUri: string;
  emu: Emulator;
  flow: OAuthFlow;
  store: CountingStore;
  states: RecordingStateStore;
  logger: CapturingLogger;
  server: Server;
  /** Swaps the flow (same server, same emulator), e.g. to change options between steps. */
  reconfigure(overrides: Partial<OAuthFlowOptions>): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  flow?: Partial<OAuthFlowOptions>;
  emulator?: EmulatorOptions;
  /** Routes before the flow (e.g. to pass install metadata). */
  route?: (request: Request, flow: OAuthFlow) => Promise<Response | undefined> | Response | undefined;
  stateStore?: StateStore;
}

/** Starts the emulator and an app serving an OAuthFlow on a real socket. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  let handler: (request: Request) => Promise<Response> = async () => new Response("starting", { status: 503 });
  const server = createServer(toNodeListener((r) => handler(r)));
  server.on(
    "clientError",
    clientErrorListener({
      render: (status) => ({
        contentType: "text/html; charset=utf-8",
        body: renderFailurePage({
          code: "SLACK_OAUTH_BAD_REQUEST",
          status,
          message: "The link is far too long to be an installation link.",
          retryUrl: "/slack/install",
        }),
      }),
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const redirectUri = `${url}/slack/oauth_redirect`;
  const emu = await startEmulator({ appUrl: url, ...options.emulator });
  const logger = new CapturingLogger();
  const store = new CountingStore();
  const states = new RecordingStateStore(options.stateStore ?? new MemoryStateStore());
  const api = new SlackApiClient({ baseUrl: emu.apiUrl, logger, retryBaseDelayMs: 1, maxRetries: 2 });
  const base: OAuthFlowOptions = {
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    scopes: ["commands", "chat:write"],
    redirectUri,
    authorizationUrl: emu.authorizeUrl,
    stateStore: states,
    installationStore: store,
    api,
    logger,
  };
  let flow = new OAuthFlow({ ...base, ...options.flow });
  const route = options.route;
  handler = async (request) => {
    const custom = route ? await route(request, flow) : undefined;
    if (custom) return custom;
    return (await flow.handle(request)) ?? new Response("not found", { status: 404 });
  };
  return {
    url,
    redirectUri,
    emu,
    get flow() {
      return flow;
    },
    store,
    states,
    logger,
    server,
    reconfigure(overrides) {
      flow = new OAuthFlow({ ...base, ...options.flow, ...overrides });
    },
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await emu.close();
    },
  };
}

/** What a browser holds after GET /slack/install: the state cookie and the authorize URL. */
export interface Started {
  state: string;
  cookie: string;
  authorizeUrl: string;
  response: Response;
  html: string;
}

/** Decodes the few entities `escapeHtml` produces (for hrefs read back from a page). */
export function unescapeHtml(s: string): string {
  return s
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

/** GET /slack/install like a browser: reads the state cookie and the "Add to Slack" link. */
export async function startInstall(h: { url: string }, path = "/slack/install"): Promise<Started> {
  const response = await fetch(`${h.url}${path}`, { redirect: "manual" });
  const html = await response.text();
  expect(response.status, html).toBe(200);
  // Over https the cookie is __Host- prefixed (plain name on http://localhost).
  const name = cookieNameFor(STATE_COOKIE_NAME, { requestUrl: `${h.url}${path}` });
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  expect(setCookie, "state cookie").toBeDefined();
  const cookie = setCookie!.split(";")[0]!.slice(name.length + 1);
  const href = /id="add-to-slack" href="([^"]+)"/.exec(html)?.[1];
  expect(href, "Add to Slack link").toBeDefined();
  const authorizeUrl = unescapeHtml(href!);
  const state = new URL(authorizeUrl).searchParams.get("state") ?? "";
  return { state, cookie, authorizeUrl, response, html };
}

/** Drives the emulator's consent page like a user: GET it, POST the form back; returns the redirect. */
export async function consent(
  authorizeUrl: string,
  form: { team?: string; user?: string; channel?: string; decision?: "allow" | "deny" } = {},
): Promise<URL> {
  const page = await fetch(authorizeUrl);
  const html = await page.text();
  expect(page.status, html).toBe(200);
  const body = new URLSearchParams({ decision: form.decision ?? "allow" });
  body.set("team", form.team ?? "T0000000001");
  if (form.user !== undefined) body.set("user", form.user);
  if (form.channel !== undefined) body.set("channel", form.channel);
  const res = await fetch(authorizeUrl, { method: "POST", body, redirect: "manual" });
  const location = res.headers.get("location");
  expect(res.status, await res.text()).toBe(302);
  return new URL(location!);
}

/** Sends the callback like the browser that holds `cookie` (or none). */
export async function callback(target: URL | string, cookie?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (cookie !== undefined)
    headers.set("cookie", `${cookieNameFor(STATE_COOKIE_NAME, { requestUrl: target })}=${cookie}`);
  return fetch(target, { ...init, headers, redirect: "manual" });
}

/** Install, consent and callback in one go; returns the callback response and its body. */
export async function fullInstall(
  h: { url: string },
  form: Parameters<typeof consent>[1] = {},
): Promise<{ started: Started; location: URL; response: Response; html: string }> {
  const started = await startInstall(h);
  const location = await consent(started.authorizeUrl, form);
  const response = await callback(location, started.cookie);
  return { started, location, response, html: await response.text() };
}

/**
 * Asserts a failure page: the status, the code (page and `X-Slack-OAuth-Error`), a readable message, a
 * "Start again" link, the state cookie deleted, and HTML that is a page rather than a stack trace.
 */
export async function expectFailurePage(
  response: Response,
  expected: { code: string; status: number; message: RegExp },
): Promise<string> {
  const html = await response.text();
  expect(response.status, html).toBe(expected.status);
  expect(response.headers.get("x-slack-oauth-error")).toBe(expected.code);
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  expect(html).toContain(`Error code: <code>${expected.code}</code>`);
  expect(html).toMatch(expected.message);
  expect(html).toMatch(/<a class="button" id="retry" href="\/slack\/install">Start again<\/a>/);
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
  const deletion = response.headers.getSetCookie().find((c) => c.startsWith(`${STATE_COOKIE_NAME}=;`));
  expect(deletion, "state cookie deletion").toMatch(/Max-Age=0/);
  return html;
}

/** Asserts that no secret of this harness reached a log line. */
export function expectNoSecretsInLogs(h: Harness, extra: string[] = []): void {
  const text = h.logger.text;
  // No token at all: the redaction helper replaces tokens with labels such as `[bot-token]`.
  expect(text).not.toContain("xox");
  expect(text).not.toContain(h.emu.app.clientSecret);
  for (const s of extra) if (s) expect(text).not.toContain(s);
}
