/**
 * The reference server's protection against floods: install starts limited per client address (a token
 * bucket each), connections capped per address, and the client address itself (the socket's, or the
 * last `X-Forwarded-For` hop when a trusted proxy sets it).
 */
import type { IncomingMessage } from "node:http";
import { isIP, type Server, type Socket } from "node:net";

/** Limits of the reference server (`ServerConfig.limits`), each from an environment variable. */
export interface ServerLimits {
  /** Install (and sign-in) starts allowed per client address per window; 0 = no limit (`INSTALL_RATE_LIMIT`, 30). */
  installRateLimit: number;
  /** The window of `installRateLimit`, in seconds (`INSTALL_RATE_WINDOW_SECONDS`, 60). */
  installRateWindowSeconds: number;
  /** Open connections allowed per client socket address; 0 = no cap (`MAX_CONNECTIONS_PER_ADDRESS`, 100). */
  maxConnectionsPerAddress: number;
  /** Time for a request's headers to arrive, in seconds (`HEADERS_TIMEOUT_SECONDS`, 10). */
  headersTimeoutSeconds: number;
  /** Time for a request's body to arrive once reading starts, in seconds (`BODY_TIMEOUT_SECONDS`, 10). */
  bodyTimeoutSeconds: number;
  /** Take the client address from `X-Forwarded-For` (its last hop), set by your own proxy (`TRUST_PROXY`). */
  trustProxy: boolean;
}

/** The defaults of {@link ServerLimits}. */
export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  installRateLimit: 30,
  installRateWindowSeconds: 60,
  maxConnectionsPerAddress: 100,
  headersTimeoutSeconds: 10,
  bodyTimeoutSeconds: 10,
  trustProxy: false,
};

/** Variables of {@link ServerLimits}: name, field, smallest allowed value. */
export const LIMIT_VARIABLES = [
  ["INSTALL_RATE_LIMIT", "installRateLimit", 0],
  ["INSTALL_RATE_WINDOW_SECONDS", "installRateWindowSeconds", 1],
  ["MAX_CONNECTIONS_PER_ADDRESS", "maxConnectionsPerAddress", 0],
  ["HEADERS_TIMEOUT_SECONDS", "headersTimeoutSeconds", 1],
  ["BODY_TIMEOUT_SECONDS", "bodyTimeoutSeconds", 1],
] as const;

/**
 * The client address of a request: the socket's, or with `trustProxy` the last valid address of
 * `X-Forwarded-For` (the one your proxy appended; earlier entries are the client's own claims).
 * IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are given as IPv4.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const raw = req.headers["x-forwarded-for"];
    const value = Array.isArray(raw) ? raw.join(",") : raw;
    if (value) {
      const hops = value.split(",");
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = (hops[i] as string).trim();
        if (isIP(hop)) return normalizeAddress(hop);
      }
    }
  }
  return normalizeAddress(req.socket.remoteAddress ?? "unknown");
}

function normalizeAddress(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * A token bucket per key: `limit` requests per `windowMs`, refilled continuously (so a client at the
 * limit gets one more every `windowMs / limit`). Keys whose bucket is full again are forgotten, and at
 * most `maxKeys` are tracked (past that, the least recently refused-or-used half is dropped).
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { limit: number; windowMs: number; maxKeys?: number; nowMs?: () => number }) {
    this.#limit = options.limit;
    this.#perMs = options.limit / options.windowMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#clock = options.nowMs ?? (() => performance.now());
  }

  /** Takes one token for `key`: `0` when allowed, else the seconds until one is available (≥ 1). */
  take(key: string): number {
    const now = this.#clock();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#prune(now);
      bucket = { tokens: this.#limit, at: now };
    } else {
      bucket.tokens = Math.min(this.#limit, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
      this.#buckets.delete(key); // re-inserted below: the map stays in least-recently-used order
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  /** Keys tracked (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#limit) this.#buckets.delete(key);
    }
    if (this.#buckets.size < this.#maxKeys) return;
    let drop = Math.ceil(this.#buckets.size / 2);
    for (const key of this.#buckets.keys()) {
      if (drop-- <= 0) break;
      this.#buckets.delete(key);
    }
  }
}

/**
 * Caps open connections per socket address on a server: a connection past the cap is answered
 * `429 Too Many Requests` with `Retry-After` and closed before any request is read.
 */
export function capConnectionsPerAddress(server: Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  // Before Node's own listener: a refused socket is answered and closed before a request is parsed.
  server.prependListener("connection", (socket: Socket) => {
    const address = normalizeAddress(socket.remoteAddress ?? "unknown");
    const n = (open.get(address) ?? 0) + 1;
    if (n > max) {
      const body = '{"ok":false,"error":"too_many_connections"}';
      socket.on("error", () => socket.destroy());
      socket.write(
        `HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`,
        () => socket.destroy(),
      );
      return;
    }
    open.set(address, n);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
