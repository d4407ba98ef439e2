/**
 * Preloaded into the Deno and Bun example processes by test/runtimes/runtimes.test.ts (before any module
 * of the app): wraps `globalThis.fetch` and prints one line per call, `fetch-probe <path> <digest>`, where
 * the digest is the first 16 hex digits of the SHA-256 of the `Authorization` header (never the header).
 * The test learns from it that the Slack Web API calls went through the runtime's fetch (not `node:http`)
 * and which token each carried.
 */
const nativeFetch = globalThis.fetch;

async function digest(value: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  return Array.from(hash.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

globalThis.fetch = Object.assign(
  async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const authorization = headers.get("authorization");
    console.log(`fetch-probe ${url.pathname} ${authorization ? await digest(authorization) : "-"}`);
    return nativeFetch(input, init);
  },
  { preconnect: () => {} },
) as typeof fetch;
