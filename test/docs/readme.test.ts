import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Every ```ts block of the README must compile against the built package, as a user would import it.
const root = new URL("../../", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");

describe("README examples", () => {
  it("has examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
  });

  it("every TypeScript example type-checks against dist/", () => {
    const dir = join(root, ".tmp", "readme-examples");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    blocks.forEach((code, i) => {
      // Each block is its own module (top-level await allowed).
      writeFileSync(join(dir, `example-${i + 1}.ts`), `${code}\nexport {};\n`);
    });
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
