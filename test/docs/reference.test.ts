import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The API reference and the API reports, built the way `npm run docs` and `npm run api` build them (tools/docs
// has its own lock file and a TypeScript that TypeDoc and API Extractor support; run.mjs installs it if absent).
// Both fail on any problem: TypeDoc on an export without a doc comment, a broken {@link} or a type that is used
// but not exported; API Extractor on an export that differs from the report checked in under etc/.
const root = new URL("../../", import.meta.url).pathname;
const run = (args: string[]): Promise<{ code: number; output: string }> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "tools/docs/run.mjs"), ...args],
      { cwd: root, encoding: "utf8", timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });

describe("API reference and API reports (tools/docs)", () => {
  it("TypeDoc builds the reference with no warning, and every report under etc/ matches the exports", async () => {
    const out = mkdtempSync(join(root, ".tmp", "docs-api-"));
    try {
      // Installs tools/docs first if needed (npm ci), then builds the reference and checks the reports at once.
      const deps = await run(["deps"]);
      expect(deps.code, deps.output).toBe(0);
      const [docs, api] = await Promise.all([run(["docs", "--out", out]), run(["api"])]);
      expect(docs.output).toMatch(/docs: \d+ entry points, reference written/);
      expect(docs.code, docs.output.slice(-4000)).toBe(0);
      expect(readFileSync(join(out, "index.html"), "utf8")).toContain("slack-oauth-kit");
      expect(api.code, api.output.slice(-4000)).toBe(0);
      expect(api.output).toContain("api: . matches its report");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);

  it("a report that differs from the exports fails the check", async () => {
    // A copy of the reports with one export removed from the pages report.
    const reports = mkdtempSync(join(root, ".tmp", "api-reports-"));
    try {
      cpSync(join(root, "etc"), reports, { recursive: true });
      const file = join(reports, "slack-oauth-kit-pages.api.md");
      const report = readFileSync(file, "utf8");
      expect(report).toMatch(/^export function escapeHtml/m);
      writeFileSync(file, report.replace(/^export function escapeHtml.*\r?\n/m, ""));
      const api = await run(["api", "--reports", reports, "--only", "./pages"]);
      expect(api.code, api.output).not.toBe(0);
      expect(api.output).toMatch(/slack-oauth-kit\/pages differ from .*slack-oauth-kit-pages\.api\.md/);
    } finally {
      rmSync(reports, { recursive: true, force: true });
    }
  }, 180_000);
});
