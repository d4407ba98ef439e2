/**
 * Proxies in the test process for the D1 stores that live in workerd (test/workers/d1-store.worker.ts):
 * every method call is one fetch to the Worker, so the shared conformance suites, which run here, drive
 * store code that runs in workerd on a real D1 binding. Errors come back as the same typed errors
 * (class, code, message); `withLock` holds the lock in workerd while the caller's fn runs here.
 */
import { randomUUID } from "node:crypto";
import type { Miniflare } from "miniflare";
import * as errors from "../../src/errors.js";
import type { Bot, Installation } from "../../src/model/installation.js";
import type { ConsumeResult, StateStatus, StateStore } from "../../src/state/state.js";
import type { ExpiringToken, HealthEntry, TokenHealth } from "../../src/stores/health.js";
import type {
  BotQuery,
  DeleteInstallationQuery,
  InstallationQuery,
  InstallationStore,
  LockOptions,
  TeamAccess,
  TeamAccessChange,
  TokenExpectation,
  TokenPatch,
  WorkspaceInstallations,
  WorkspaceQuery,
} from "../../src/stores/installation-store.js";
import { decode, encode, type WireError } from "./wire.js";

/** The typed error a {@link WireError} stands for: an instance of the same class, same code and message. */
function rebuild(w: WireError): Error {
  const cls = (errors as Record<string, unknown>)[w.name];
  const proto =
    typeof cls === "function" && (cls as { prototype?: unknown }).prototype instanceof Error
      ? ((cls as { prototype: object }).prototype as Error)
      : Error.prototype;
  const e = Object.create(proto) as Error & { code?: string };
  Object.defineProperty(e, "message", { value: w.message, writable: true, configurable: true });
  Object.defineProperty(e, "name", { value: w.name, writable: true, configurable: true });
  if (w.code !== undefined) Object.defineProperty(e, "code", { value: w.code, writable: true, configurable: true });
  e.stack = `${w.name}: ${w.message}\n    at workerd`;
  return e;
}

/**
 * Requests in flight to workerd at most: enough for every race of the suites (20 concurrent consumes,
 * concurrent compare-and-sets) to be real, and below what makes workerd reset connections when a suite
 * fires 1000 calls at once on a loaded machine.
 */
const MAX_IN_FLIGHT = 64;

/** One Worker holding stores; `post` sends one request in the wire format. */
export class StoreWorker {
  #inFlight = 0;
  readonly #queue: (() => void)[] = [];

  constructor(readonly mf: Miniflare) {}

  async post(path: string, body: Record<string, unknown>): Promise<unknown> {
    if (this.#inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#inFlight++;
    let res: Response;
    let text: string;
    try {
      res = (await this.mf.dispatchFetch(`http://store.test${path}`, {
        method: "POST",
        body: JSON.stringify(encode(body)),
      })) as unknown as Response;
      text = await res.text();
    } finally {
      this.#inFlight--;
      this.#queue.shift()?.();
    }
    if (res.status !== 200) throw new Error(`store worker ${path}: ${res.status} ${text}`);
    const answer = JSON.parse(text) as { ok?: unknown; error?: WireError };
    if (answer.error !== undefined) throw rebuild(answer.error);
    return decode(answer.ok);
  }

  /** Opens the WebSocket of one `withLock` call (see d1-store.worker.ts). */
  async lockSocket(args: Record<string, unknown>): Promise<{
    next(): Promise<unknown>;
    send(body: unknown): void;
    close(): void;
  }> {
    const res = await this.mf.dispatchFetch("http://store.test/lock", {
      headers: { upgrade: "websocket", "x-lock": JSON.stringify(encode(args)) },
    });
    const ws = res.webSocket;
    if (ws === null) throw new Error(`store worker /lock: ${res.status} ${await res.text()}`);
    const inbox: unknown[] = [];
    const waiting: ((m: unknown) => void)[] = [];
    ws.addEventListener("message", (event) => {
      const m = JSON.parse(String(event.data));
      const w = waiting.shift();
      if (w) w(m);
      else inbox.push(m);
    });
    ws.addEventListener("close", () => {
      for (const w of waiting.splice(0)) w({ error: { name: "Error", message: "withLock: the socket closed" } });
    });
    // Listeners first: accept() delivers what the Worker already sent.
    ws.accept();
    return {
      next: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r))),
      send: (body) => ws.send(JSON.stringify(encode(body))),
      close: () => {
        try {
          ws.close(1000);
        } catch {
          // already closed by the Worker
        }
      },
    };
  }

  /** Drops tables of the Worker's D1 database, in one batch. */
  async drop(tables: string[]): Promise<void> {
    await this.post("/drop", { tables });
  }

  /** Runs SQL on the Worker's D1 binding (rows as arrays). */
  sql(sql: string, params: unknown[] = []): Promise<unknown[][]> {
    return this.post("/sql", { sql, params }) as Promise<unknown[][]>;
  }

  async installationStore(options: {
    tablePrefix: string;
    clientId?: string;
    historicalData?: boolean;
    kv?: boolean;
  }): Promise<ProxyInstallationStore> {
    const id = randomUUID();
    await this.post("/open", { id, kind: "installation", options });
    return new ProxyInstallationStore(this, id, options.clientId ?? "");
  }

  async stateStore(options: {
    tablePrefix: string;
    ttlSeconds?: number;
    clock?: () => number;
  }): Promise<ProxyStateStore> {
    const id = randomUUID();
    await this.post("/open", {
      id,
      kind: "state",
      options: { tablePrefix: options.tablePrefix, ttlSeconds: options.ttlSeconds, clock: options.clock !== undefined },
    });
    return new ProxyStateStore(this, id, options.clock);
  }
}

/** An {@link InstallationStore} whose every call runs in workerd. */
export class ProxyInstallationStore implements InstallationStore {
  constructor(
    readonly worker: StoreWorker,
    readonly id: string,
    readonly clientId: string,
  ) {}

  #call(method: string, args: unknown[]): Promise<unknown> {
    return this.worker.post("/call", { id: this.id, method, args });
  }

  save(installation: Installation): Promise<void> {
    return this.#call("save", [installation]) as Promise<void>;
  }
  findBot(q: BotQuery): Promise<Bot | undefined> {
    return this.#call("findBot", [q]) as Promise<Bot | undefined>;
  }
  findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    return this.#call("findInstallation", [q]) as Promise<Installation | undefined>;
  }
  deleteBot(q: WorkspaceQuery): Promise<void> {
    return this.#call("deleteBot", [q]) as Promise<void>;
  }
  deleteInstallation(q: DeleteInstallationQuery): Promise<void> {
    return this.#call("deleteInstallation", [q]) as Promise<void>;
  }
  deleteAll(q: WorkspaceQuery): Promise<void> {
    return this.#call("deleteAll", [q]) as Promise<void>;
  }
  listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    return this.#call("listWorkspaces", filter === undefined ? [] : [filter]) as Promise<WorkspaceInstallations[]>;
  }
  updateTokens(q: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    return this.#call("updateTokens", expect === undefined ? [q, patch] : [q, patch, expect]) as Promise<boolean>;
  }

  recordHealth(q: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    return this.#call("recordHealth", expect === undefined ? [q, health] : [q, health, expect]) as Promise<boolean>;
  }
  listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    return this.#call("listHealth", filter === undefined ? [] : [filter]) as Promise<HealthEntry[]>;
  }
  listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    return this.#call("listExpiringTokens", limit === undefined ? [untilSeconds] : [untilSeconds, limit]) as Promise<
      ExpiringToken[]
    >;
  }

  updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    return this.#call("updateTeamAccess", [enterpriseId, change]) as Promise<void>;
  }
  findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    return this.#call("findTeamAccess", [enterpriseId]) as Promise<TeamAccess>;
  }

  /** Takes the lock in workerd, runs `fn` here, then hands its outcome back for the release. */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const socket = await this.worker.lockSocket({ id: this.id, key, options });
    const first = (await socket.next()) as { acquired?: boolean; error?: WireError; ok?: unknown };
    if (!first.acquired) {
      socket.close();
      throw first.error !== undefined ? rebuild(first.error) : new Error("withLock: no answer");
    }
    let own: { error: unknown } | undefined;
    try {
      socket.send({ value: await fn() });
    } catch (error) {
      own = { error };
      socket.send({ failed: true });
    }
    const last = (await socket.next()) as { error?: WireError; ok?: unknown };
    socket.close();
    if (last.error !== undefined) {
      if (last.error.fromCaller && own !== undefined) throw own.error;
      throw rebuild(last.error);
    }
    return decode(last.ok) as T;
  }

  close(): Promise<void> {
    return this.worker.post("/close", { id: this.id }) as Promise<void>;
  }
}

/** A {@link StateStore} whose every call runs in workerd; an injected clock is read here, per call. */
export class ProxyStateStore implements StateStore {
  constructor(
    readonly worker: StoreWorker,
    readonly id: string,
    readonly clock?: () => number,
  ) {}

  #call(method: string, args: unknown[]): Promise<unknown> {
    return this.worker.post("/call", { id: this.id, method, args, now: this.clock?.() });
  }

  issue(data?: Record<string, unknown>): Promise<string> {
    return this.#call("issue", data === undefined ? [] : [data]) as Promise<string>;
  }
  consume(state: string): Promise<Record<string, unknown> | undefined> {
    return this.#call("consume", [state]) as Promise<Record<string, unknown> | undefined>;
  }
  consumeDetailed(state: string): Promise<ConsumeResult> {
    return this.#call("consumeDetailed", [state]) as Promise<ConsumeResult>;
  }
  inspect(state: string): Promise<StateStatus> {
    return this.#call("inspect", [state]) as Promise<StateStatus>;
  }
  purgeExpired(): Promise<number> {
    return this.#call("purgeExpired", []) as Promise<number>;
  }
  close(): Promise<void> {
    return this.worker.post("/close", { id: this.id }) as Promise<void>;
  }
}
