/**
 * What the fetch handler of the Deno, Bun and Workers examples loads, read from the built modules (dist/, what
 * actually runs): the static import graph of the entry points they use reaches no `node:http`, `node:fs`
 * or `node:net` (nor their relatives); the one dynamic `node:http`/`node:https` import is the Slack client's
 * Node transport, which the runtime tests show is never taken on Deno, Bun or Workers.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./runtimes.js";

interface Edge {
  from: string;
  to: string;
  dynamic: boolean;
}

const IMPORT_RE =
  /(?:^|[;\n}])\s*(?:import|export)\s*(?:[\w*${}\s,]*?\s*from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Every import edge reachable from `entries` through relative imports (static ones, and dynamic ones when asked). */
function importGraph(entries: string[]): Edge[] {
  const edges: Edge[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(IMPORT_RE)) {
      const to = m[1] ?? m[2] ?? "";
      const dynamic = m[2] !== undefined;
      const from = relative(ROOT, file);
      if (to.startsWith(".")) {
        const target = resolve(dirname(file), to);
        edges.push({ from, to: relative(ROOT, target), dynamic });
        visit(target);
      } else edges.push({ from, to, dynamic });
    }
  };
  for (const e of entries) visit(join(ROOT, e));
  return edges;
}

const ENTRIES = [
  "dist/index.js",
  "dist/http/core.js",
  "dist/stores/bun-sqlite.js",
  "dist/stores/postgres.js",
  "dist/stores/d1.js",
];
const FORBIDDEN = /^node:(http|https|http2|fs|fs\/promises|net|tls|dgram|child_process|worker_threads)$/;

describe("the fetch handler's import graph (dist/)", () => {
  const edges = importGraph(ENTRIES);

  it("walks the real modules (the parser finds their imports)", () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: "dist/index.js", to: "dist/oauth/flow.js", dynamic: false });
    expect(edges).toContainEqual({ from: "dist/oauth/flow.js", to: "node:crypto", dynamic: false });
  });

  it("no static import of node:http, node:fs, node:net (or https, tls, child_process…) anywhere on it", () => {
    const bad = edges.filter((e) => !e.dynamic && FORBIDDEN.test(e.to));
    expect(bad).toEqual([]);
    const builtins = new Set(edges.filter((e) => !e.dynamic && e.to.startsWith("node:")).map((e) => e.to));
    expect([...builtins].sort()).toEqual(["node:crypto"]);
  });

  it("the only dynamic imports are the Node transport's node:http/https and the optional pg driver", () => {
    const dynamic = edges.filter((e) => e.dynamic).map((e) => `${e.from} → ${e.to}`);
    expect(dynamic.sort()).toEqual([
      "dist/slack-api/transport.js → node:http",
      "dist/slack-api/transport.js → node:https",
      "dist/stores/postgres/connection.js → pg",
    ]);
  });
});
