import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { describe, expect, it } from "vitest";

// Every ```ts block of the README and of docs/**/*.md must compile against the built package, as a user would
// import it. (docs/api/ is the generated reference, git-ignored: not a source of examples.)
const root = new URL("../../", import.meta.url).pathname;
const docs = (readdirSync(join(root, "docs"), { recursive: true }) as string[])
  .filter((f) => f.endsWith(".md") && !f.startsWith(`api${sep}`))
  .sort()
  .map((f) => join("docs", f));
const sources = ["README.md", ...docs];
const blocks = sources.flatMap((file) =>
  [...readFileSync(join(root, file), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => ({
    name: `${file.replace(/[^A-Za-z0-9]+/g, "-")}-${i + 1}`,
    code: m[1] ?? "",
  })),
);

describe("README and docs/ examples", () => {
  it("has examples, in the README and in docs/", () => {
    // The README keeps one quick start (run by quickstart.test.ts); the reference examples live in docs/.
    expect(blocks.filter((b) => b.name.startsWith("README")).length).toBeGreaterThanOrEqual(1);
    expect(docs.length).toBeGreaterThanOrEqual(1);
    expect(blocks.filter((b) => b.name.startsWith("docs-")).length).toBeGreaterThanOrEqual(20);
  });

  it("every TypeScript example type-checks against dist/", () => {
    const dir = join(root, ".tmp", "readme-examples");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const { name, code } of blocks) {
      // Each block is its own module (top-level await allowed), named after its file so errors point at it.
      writeFileSync(join(dir, `${name}.ts`), `${code}\nexport {};\n`);
    }
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2023", "DOM"],
          types: ["node"],
          typeRoots: [join(root, "node_modules/@types")],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          rootDir: ".",
        },
        include: ["*.ts"],
      }),
    );
    let output = "";
    try {
      execFileSync(
        process.execPath,
        [join(root, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")],
        {
          cwd: root,
          encoding: "utf8",
          stdio: "pipe",
        },
      );
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe("");
  }, 120_000);
});
