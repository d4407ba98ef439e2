/**
 * The emulator's own HTTP plumbing over `node:http`: parsing and replies. (Separate from the library's
 * request handling — the emulator must catch the library's mistakes — except for the transport basics of
 * the HTTP core: the bounded body reader and its coded 413/408 replies, the same as every adapter's.)
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, SlackOAuthError } from "../errors.js";
import { BodyReadTimeoutError, BodyTooLargeError, bodyErrorReply, readBody as readBoundedBody } from "../http/core.js";

/** Bodies above this size are refused with 413 (Slack's own limits are lower for most methods). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request the emulator refuses: answered with `status` and `{ ok: false, error: message }`. */
export class HttpError extends SlackOAuthError {
  constructor(status: number, message: string) {
    super(ErrorCode.EmulatorRequest, message, { status });
  }
}

/**
 * Reads the raw body as a string (UTF-8), up to {@link MAX_BODY_BYTES}, with the HTTP core's reader:
 * throws its `BodyTooLargeError` / `BodyReadTimeoutError` (answered by {@link sendBodyError}).
 */
export async function readBody(req: IncomingMessage): Promise<string> {
  const bytes = await readBoundedBody(req, { maxBytes: MAX_BODY_BYTES });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/**
 * Answers a body the core's reader refused (413 `payload_too_large`, 408 `request_timeout`, as every
 * adapter of the library does); false for any other error.
 */
export function sendBodyError(res: ServerResponse, error: unknown): boolean {
  if (!(error instanceof BodyTooLargeError || error instanceof BodyReadTimeoutError)) return false;
  const { status, headers, body } = bodyErrorReply(error);
  res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
  return true;
}

/** The media type of a request, lower-case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Parses `application/x-www-form-urlencoded` into a record (the last value wins for repeated keys). */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** Query parameters of a URL as a record (the last value wins). */
export function queryRecord(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

/** Parses a JSON object body; throws {@link HttpError} 400 for anything else. */
export function parseJsonObject(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = body.trim() === "" ? {} : JSON.parse(body);
  } catch {
    throw new HttpError(400, "invalid_json");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, "invalid_json");
  return parsed as Record<string, unknown>;
}

/** Sends a JSON reply. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** Sends an HTML page. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  });
  res.end(html);
}

/** Sends plain text. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Sends a 302 redirect. */
export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, "cache-control": "no-store", "content-length": 0 });
  res.end();
}

/** Credentials from `Authorization: Basic …`, if present and well-formed. */
export function basicCredentials(req: IncomingMessage): { id: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  if (i < 0) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  try {
    return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  } catch {
    return { id: decoded.slice(0, i), secret: decoded.slice(i + 1) };
  }
}

/** Token from `Authorization: Bearer …`, if present. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Appends query parameters to a URL string that may already have a query. */
export function withQuery(base: string, params: Record<string, string | undefined>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
