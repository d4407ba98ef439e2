// `node tools/docs/run.mjs docs|api|deps [args]`: installs this folder's own dependencies when they are absent
// (npm ci from the lock file, from the npm cache when it holds them), then runs the TypeDoc build
// (build.mjs) or the API report check (api-report.mjs) with the remaining arguments.
// Used by `npm run docs`, `npm run api`, `npm run api:update` and by test/docs/reference.test.ts, so a fresh
// clone needs nothing beyond `npm install && npm test`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const scripts = { docs: "build.mjs", api: "api-report.mjs", deps: undefined };
const [what, ...args] = process.argv.slice(2);
if (!Object.hasOwn(scripts, what ?? "")) {
  console.error("usage: node tools/docs/run.mjs docs|api|deps [args]");
  process.exit(2);
}

const needed = ["typedoc", "@microsoft/api-extractor", "typescript"];
if (needed.some((name) => !existsSync(join(here, "node_modules", name, "package.json")))) {
  console.error("docs tools: installing tools/docs dependencies (npm ci, own lock file)…");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const install = spawnSync(npm, ["ci", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: here, stdio: "inherit" });
  if (install.status !== 0) {
    console.error("docs tools: `npm ci` in tools/docs failed (offline with an empty npm cache?)");
    process.exit(install.status ?? 1);
  }
}
if (what === "deps") process.exit(0);
const run = spawnSync(process.execPath, [join(here, scripts[what]), ...args], { stdio: "inherit" });
process.exit(run.status ?? 1);
