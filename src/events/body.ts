/** Default largest Slack request body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The body was larger than allowed (the handler answers 413).
 *
 * @example
 * ```ts
 * try {
 *   await readRawBody(request, 1024);
 * } catch (e) {
 *   if (e instanceof BodyTooLargeError) return new Response(null, { status: 413 });
 * }
 * ```
 */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

/**
 * Reads a request body as raw bytes (signatures are computed over the exact bytes), refusing anything
 * over `limit` bytes — at once when `Content-Length` says so, else as soon as the stream passes the limit,
 * without buffering the rest.
 *
 * @example
 * ```ts
 * const raw = await readRawBody(request); // Uint8Array, at most 1 MiB
 * ```
 */
export async function readRawBody(request: Request, limit: number = DEFAULT_MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit) {
    await request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(`body of ${declared} bytes exceeds ${limit}`);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(`body exceeds ${limit} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
