/**
 * `npm install` on the oldest Node we support prints no EBADENGINE: every package in package-lock.json
 * accepts the running Node version (CI runs the suite on Node 20). A dependency that starts wanting a
 * newer Node is pinned or overridden in package.json (today: light-my-request 6.6.0, whose cookie 1.x
 * runs on Node 20, where 6.8 pulled cookie 2.x and its `node >= 22`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
}

describe("engines", () => {
  it("every package in package-lock.json accepts the running Node version", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, LockEntry>;
    };
    const node = process.versions.node;
    const refused: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range === undefined) continue;
      checked++;
      if (!semver.satisfies(node, range, { includePrerelease: true }))
        refused.push(`${path || "(root)"}@${entry.version ?? "?"} wants node ${range}`);
    }
    expect(checked).toBeGreaterThan(50);
    expect(refused, `Node ${node}`).toEqual([]);
  });

  it("the project itself says which Node it needs, and the running one is in range", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } };
    expect(semver.satisfies(process.versions.node, pkg.engines.node)).toBe(true);
  });
});
