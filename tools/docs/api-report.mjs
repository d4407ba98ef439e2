// API reports (run by `npm run api` to check, `npm run api:update` to rewrite): API Extractor, with the
// TypeScript it ships, reads the built declarations (dist/*.d.ts) of the root entry and the subpaths listed
// below and compares what they export with the reports checked in under etc/. A difference fails the check
// (so an export changes only on purpose); `--update` writes the new report for review in the diff.
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const update = process.argv.includes("--update");
const option = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
/** `--reports DIR` compares with another folder than etc/ (the test uses a doctored copy); `--only ./x` one entry. */
const reports = resolve(option("--reports") ?? join(root, "etc"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** Entry points with a report: the root (what apps use) and the subpaths for store authors, pages and tests. */
const ENTRIES = option("--only") ? [option("--only")] : [".", "./stores", "./pages", "./testing"];

let failed = 0;
for (const entry of ENTRIES) {
  const target = pkg.exports[entry];
  if (!target?.types) throw new Error(`api: package.json has no "types" for ${entry}`);
  const name = entry === "." ? pkg.name : `${pkg.name}-${entry.slice(2).replaceAll("/", "-")}`;
  const tmp = join(root, ".tmp", "api-report");
  mkdirSync(tmp, { recursive: true });
  if (update) mkdirSync(reports, { recursive: true });
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      newlineKind: "lf",
      mainEntryPointFilePath: join(root, target.types),
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            lib: ["ES2023", "DOM"],
            types: ["node"],
            typeRoots: [join(root, "node_modules/@types")],
            strict: true,
            skipLibCheck: true,
          },
          include: [join(root, "dist/**/*.d.ts")],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: `${name}.api.md`,
        reportFolder: reports,
        reportTempFolder: tmp,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: "warning" } },
        // Release tags (@public / @beta) are not used in this project; TypeDoc checks doc comments and links.
        extractorMessageReporting: {
          default: { logLevel: "none" },
          "ae-missing-release-tag": { logLevel: "none" },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
      },
    },
    configObjectFullPath: join(here, "api-extractor.json"),
    packageJsonFullPath: join(root, "package.json"),
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, messageCallback: () => {} });
  if (result.apiReportChanged && !update) {
    failed++;
    console.error(
      `api: the exports of ${entry === "." ? pkg.name : `${pkg.name}/${entry.slice(2)}`} differ from ${relative(root, join(reports, `${name}.api.md`))}` +
        ` (new report in .tmp/api-report/${name}.api.md). If the change is on purpose, run \`npm run api:update\` and commit etc/.`,
    );
  } else if (!result.succeeded && !result.apiReportChanged) {
    failed++;
    console.error(`api: API Extractor failed on ${entry} (${result.errorCount} error(s), ${result.warningCount} warning(s))`);
  } else {
    console.log(`api: ${entry} ${update && result.apiReportChanged ? "report updated" : "matches its report"}`);
  }
}
process.exit(failed ? 1 : 0);
