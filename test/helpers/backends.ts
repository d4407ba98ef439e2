/**
 * Reachability of the database servers the SQL store tests need.
 *
 * Locally, an unreachable server skips that backend's tests with a `console.warn` naming it; under
 * `CI=true` it fails the suite instead (the `beforeAll` of {@link describeBackend} throws), so a CI
 * job can never go green without having run them.
 */
import { beforeAll, describe } from "vitest";

/** The result of {@link probeBackend}. */
export interface BackendStatus {
  /** `PostgreSQL`, `MySQL`… */
  name: string;
  /** The URL tried (credentials removed). */
  url: string;
  reachable: boolean;
  /** Why it is not reachable. */
  error?: string;
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

/**
 * Runs `probe` (connect and `SELECT 1`, say) with a timeout and reports whether the backend answered.
 *
 * @example
 * ```ts
 * const pg = await probeBackend("PostgreSQL", url, async () => { ... });
 * ```
 */
export async function probeBackend(
  name: string,
  url: string,
  probe: () => Promise<void>,
  timeoutMs = 5000,
): Promise<BackendStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name, url: safeUrl(url), reachable: true };
  } catch (e) {
    return { name, url: safeUrl(url), reachable: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** True under `CI=true`: an unreachable backend is then a failure, not a skip. */
export const inCI = process.env.CI === "true";

/**
 * `describe` for tests needing a backend: runs `fn` when it is reachable; otherwise skips with a
 * warning, or, under `CI=true`, fails every test with a clear message.
 *
 * @example
 * ```ts
 * describeBackend(status, () => { testStateStore(...); });
 * ```
 */
export function describeBackend(status: BackendStatus, fn: () => void): void {
  const why = `${status.name} at ${status.url} is unreachable (${status.error ?? "unknown error"})`;
  if (!status.reachable && !inCI) {
    console.warn(`[SKIPPED] ${status.name} store tests: ${why}. Start the server (or set CI=true to fail instead).`);
    describe.skip(`${status.name} (unreachable)`, fn);
    return;
  }
  describe(status.name, () => {
    if (!status.reachable) {
      beforeAll(() => {
        throw new Error(`CI=true: ${why}; the ${status.name} store tests cannot be skipped in CI`);
      });
    }
    fn();
  });
}
