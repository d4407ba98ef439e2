// Builds the API reference with TypeDoc (run by `npm run docs` from the repository root).
// TypeDoc does not support the TypeScript 7 the project builds with, so it runs from this folder with its own
// lock file and a TypeScript it supports. Entry points are read from package.json's `exports`, so a new
// subpath is documented (and checked) without touching this file. Any warning fails the build: an export
// without a doc comment, a broken {@link}, a type that is used but not exported.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Application, LogLevel } from "typedoc";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = process.argv.includes("--out") ? resolve(process.argv[process.argv.indexOf("--out") + 1]) : join(root, "docs/api");

/** `./dist/stores/sqlite.js` → `<root>/src/stores/sqlite.ts`. */
const entryPoints = Object.values(pkg.exports)
  .filter((target) => typeof target === "object" && typeof target.default === "string")
  .map((target) => join(root, target.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts")));

const app = await Application.bootstrapWithPlugins({
  name: pkg.name,
  entryPoints,
  entryPointStrategy: "resolve",
  tsconfig: join(here, "tsconfig.json"),
  out,
  readme: "none",
  // No source links: they need a git remote (a fresh clone, a fork or a tarball may have none or another),
  // and TypeDoc warns, which fails this build, when it cannot read one.
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  categorizeByGroup: true,
  groupOrder: ["Classes", "Functions", "Interfaces", "Type Aliases", "Variables", "*"],
  sort: ["kind", "alphabetical"],
  treatWarningsAsErrors: true,
  treatValidationWarningsAsErrors: true,
  validation: { notExported: true, invalidLink: true, rewrittenLink: true, notDocumented: true, unusedMergeModuleWith: true },
  requiredToBeDocumented: ["Class", "Function", "Interface", "TypeAlias", "Enum", "Variable"],
  intentionallyNotExported: [],
  logLevel: LogLevel.Warn,
  skipErrorChecking: true,
  githubPages: false,
  hideGenerator: true,
});

const project = await app.convert();
if (!project) {
  console.error("docs: TypeDoc could not convert the project (see the messages above)");
  process.exit(1);
}
app.validate(project);
if (app.logger.hasErrors() || app.logger.hasWarnings()) {
  console.error(`docs: ${app.logger.errorCount} error(s), ${app.logger.warningCount} warning(s): see above`);
  process.exit(1);
}
await app.generateDocs(project, out);
if (app.logger.hasErrors() || app.logger.hasWarnings()) process.exit(1);
console.log(`docs: ${entryPoints.length} entry points, reference written to ${out}`);
