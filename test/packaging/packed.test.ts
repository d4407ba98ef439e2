/**
 * What ships, as a consumer gets it: `npm pack` (dist/ is built by the global setup), `publint` and
 * `attw --profile esm-only` on the tarball, then the tarball unpacked into a fresh project's
 * node_modules (its dependencies linked from this checkout's, so nothing is downloaded) and every
 * subpath export imported by the package's own name from a plain .mjs file.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, { default?: string } | string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const bin = (name: string) => join(root, "node_modules", ".bin", name);

/** Subpaths whose implementation is written in parallel by others: tolerated only while absent from dist/. */
const IN_PROGRESS = new Set(["./stores/postgres", "./stores/mysql", "./stores/redis"]);

let dir: string;
let tarball: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "slack-oauth-kit-pack-"));
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [info] = JSON.parse(out) as Array<{ filename: string }>;
  tarball = join(dir, info!.filename);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("passes publint", () => {
    const out = execFileSync(bin("publint"), ["run", tarball, "--strict"], { encoding: "utf8", stdio: "pipe" });
    expect(out).toMatch(/All good!/);
  });

  it("passes attw --profile esm-only (exit code 0: no problem outside the ignored CJS/node10 resolutions)", () => {
    const out = execFileSync(bin("attw"), [tarball, "--profile", "esm-only", "--format", "json"], {
      encoding: "utf8",
      stdio: "pipe",
    });
    type Problem = { kind: string; entrypoint?: string; resolutionKind?: string };
    const report = JSON.parse(out) as { problems?: Record<string, Problem[]> | Problem[] };
    const all = Array.isArray(report.problems) ? report.problems : Object.values(report.problems ?? {}).flat();
    const relevant = all.filter((p) => p.resolutionKind !== "node10" && p.resolutionKind !== "node16-cjs");
    expect(relevant).toEqual([]);
  });

  it("every subpath export imports by name in a fresh project", () => {
    const project = join(dir, "consumer");
    const target = join(project, "node_modules", pkg.name);
    mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    // Link the package's dependencies (and installed optional peers) from this checkout.
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]) {
      const from = join(root, "node_modules", dep);
      if (existsSync(from)) symlinkSync(from, join(project, "node_modules", dep), "dir");
    }
    const subpaths = Object.keys(pkg.exports).filter((p) => p !== "./package.json");
    const missing = subpaths.filter((p) => {
      const e = pkg.exports[p];
      const file = typeof e === "string" ? e : e?.default;
      return file !== undefined && !existsSync(join(target, file));
    });
    // Only the subpaths others are still writing may be missing; the rest must ship.
    expect(missing.filter((p) => !IN_PROGRESS.has(p))).toEqual([]);
    if (missing.length > 0) console.warn(`packed.test: not yet built, skipped: ${missing.join(", ")}`);
    const script = `
      const out = {};
      for (const p of ${JSON.stringify(subpaths.filter((p) => !missing.includes(p)))}) {
        const spec = p === "." ? ${JSON.stringify(pkg.name)} : ${JSON.stringify(pkg.name)} + p.slice(1);
        out[p] = Object.keys(await import(spec)).sort();
      }
      console.log(JSON.stringify(out));
    `;
    writeFileSync(join(project, "check.mjs"), script);
    const loaded = JSON.parse(
      execFileSync(process.execPath, ["check.mjs"], { cwd: project, encoding: "utf8" }),
    ) as Record<string, string[]>;
    for (const [p, names] of Object.entries(loaded)) expect(names.length, `exports of ${p}`).toBeGreaterThan(0);
    expect(loaded["./http/express"]).toEqual(expect.arrayContaining(["slackRouter", "toExpressHandler"]));
    expect(loaded["./http/fastify"]).toEqual(expect.arrayContaining(["slackPlugin"]));
    expect(loaded["./http/hono"]).toEqual(expect.arrayContaining(["slackRoutes", "toFetchHandler"]));
    expect(loaded["./http/lambda"]).toEqual(
      expect.arrayContaining([
        "slackLambdaHandler",
        "toLambdaHandler",
        "toLambdaWorker",
        "lambdaEventToRequest",
        "responseToLambdaResult",
        "createHandOffEndpoint",
        "createHandOffWorker",
      ]),
    );
    expect(loaded["./bolt"]).toEqual(
      expect.arrayContaining([
        "toBoltAuthorize",
        "toBoltInstallationStore",
        "toBoltInstallation",
        "fromBoltInstallation",
      ]),
    );
  });
});
