/**
 * Workers code under workerd for the tests and the `runtimes` benchmark: esbuild (already here, through
 * Vite) bundles a Worker from the TypeScript sources, and Miniflare 3 (a dev dependency; its `workerd`
 * binary comes inside the npm package `@cloudflare/workerd-linux-64`) runs it with local D1 and KV.
 * Nothing is downloaded at test time.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { Miniflare, type MiniflareOptions } from "miniflare";

export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Bundles a Worker entry (TypeScript) into one ES module. `slack-oauth-kit/…` imports resolve to the
 * sources (`src/`), Node built-ins stay imports (`nodejs_compat` answers them in workerd).
 */
export async function bundleWorker(entry: string): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    exports: Record<string, string | { default: string }>;
  };
  const alias: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === "string") continue;
    // ./dist/stores/d1.js → ./src/stores/d1.ts
    const src = target.default.replace(/^\.\/dist\//, "./src/").replace(/\.js$/, ".ts");
    alias[subpath === "." ? "slack-oauth-kit" : `slack-oauth-kit/${subpath.slice(2)}`] = join(ROOT, src);
  }
  const out = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    external: ["node:*"],
    alias,
    logLevel: "silent",
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return file.text;
}

/** The `node:` modules a bundle imports (statically or dynamically). */
export function nodeImports(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/\bfrom\s*["'](node:[\w/]+)["']|\bimport\(\s*["'](node:[\w/]+)["']\s*\)/g)) {
    found.add((m[1] ?? m[2]) as string);
  }
  return [...found].sort();
}

/** The compatibility settings every Worker of the tests runs with (as in examples/cloudflare). */
export const COMPAT = { compatibilityDate: "2025-07-01", compatibilityFlags: ["nodejs_compat"] };

/** Starts workerd with one bundled Worker; `dispose()` stops it. */
export async function startWorker(code: string, options: Record<string, unknown> = {}): Promise<Miniflare> {
  const mf = new Miniflare({ ...COMPAT, ...options, modules: true, script: code } as MiniflareOptions);
  await mf.ready;
  return mf;
}

/** Reads a `wrangler.jsonc`: JSON with `//` and `/* … *\/` comments (outside strings) and trailing commas. */
export function readWranglerConfig(path: string): WranglerConfig {
  const text = readFileSync(join(ROOT, path), "utf8");
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      out += text.slice(start, i + 1);
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2) + 1;
    } else out += c;
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1")) as WranglerConfig;
}

/** The parts of a wrangler configuration the tests run a Worker with. */
export interface WranglerConfig {
  name: string;
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  d1_databases?: { binding: string; database_name: string; database_id: string }[];
  kv_namespaces?: { binding: string; id: string }[];
  vars?: Record<string, string>;
}

/**
 * Miniflare options for the Worker a wrangler configuration describes: its compatibility settings, its
 * D1 and KV bindings (local), its vars, plus `bindings` (the secrets) on top.
 */
export function optionsFromWrangler(config: WranglerConfig, bindings: Record<string, string>): Record<string, unknown> {
  return {
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    d1Databases: Object.fromEntries((config.d1_databases ?? []).map((d) => [d.binding, d.database_id])),
    kvNamespaces: Object.fromEntries((config.kv_namespaces ?? []).map((k) => [k.binding, k.id])),
    bindings: { ...config.vars, ...bindings },
  };
}

/**
 * Starts workerd with `isolates` copies of one Worker (`w0`, `w1`, …: each its own isolate), all bound to
 * the same D1 database and KV namespace, as several instances of a deployed Worker are. `dispatchFetch`
 * reaches `w0`; each worker also listens on a socket of its own (`urls[i]`), for other OS processes.
 */
export async function startIsolates(code: string, isolates: number): Promise<{ mf: Miniflare; urls: string[] }> {
  const workers = Array.from({ length: isolates }, (_, i) => ({
    ...COMPAT,
    name: `w${i}`,
    modules: true,
    script: code,
    d1Databases: { DB: "shared-d1" },
    kvNamespaces: { KV: "shared-kv" },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  }));
  const mf = new Miniflare({ workers } as MiniflareOptions);
  await mf.ready;
  const urls: string[] = [];
  for (let i = 0; i < isolates; i++) urls.push((await mf.unsafeGetDirectURL(`w${i}`)).href.replace(/\/$/, ""));
  return { mf, urls };
}
