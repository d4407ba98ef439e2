import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * Builds `dist/` once before any test file runs, so the tests that exercise what ships (the dist smoke
 * test, README examples, the CLI) never race each other rebuilding it.
 */
export default function setup(): void {
  const root = new URL("../", import.meta.url).pathname;
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
      cwd: root,
      stdio: "pipe",
    });
  } catch (error) {
    const out = String((error as { stdout?: Buffer }).stdout ?? "");
    // Type errors still emit JS; `npm test` type-checks first, so only a missing build is fatal here.
    if (!existsSync(`${root}dist/index.js`) || !existsSync(`${root}dist/cli/index.js`)) {
      throw new Error(`building dist/ failed:\n${out}`);
    }
    console.warn(`tsc reported errors while building dist/ (npm test type-checks separately):\n${out.slice(0, 2000)}`);
  }
}
