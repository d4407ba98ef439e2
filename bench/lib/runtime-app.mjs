/**
 * The app of `npm run bench -- runtimes`, run unchanged by Node, Deno and Bun: the toolkit's one fetch
 * handler (`toFetchHandler` over `OAuthFlow` + `SlackRequestHandler`, `createAuthorize` over a
 * `CachingInstallationStore`) served the way each runtime's users serve one: `node:http` through
 * `toNodeListener` on Node, `Deno.serve`, `Bun.serve`. Plain JavaScript importing the built package
 * (dist/), so that no runtime spends its start-up on a transpiler. The app itself is runtime-handler.mjs.
 *
 * Env: PORT, SIGNING_SECRET, BENCH_INSTALLATIONS (workspaces seeded in memory, default 1000). Prints
 * `listening on <url>` once it accepts requests. The `/bench` command answers with an ephemeral message
 * that says whether the workspace's bot token was found.
 */
import { buildBenchHandler } from "./runtime-handler.mjs";

const env = (name) => (globalThis.Deno ? globalThis.Deno.env.get(name) : process.env[name]);
const port = Number(env("PORT"));
const handler = await buildBenchHandler({
  signingSecret: env("SIGNING_SECRET") ?? "",
  installations: Number(env("BENCH_INSTALLATIONS") ?? 1000),
});
const ready = (url) => console.log(`listening on ${url}`);

if (globalThis.Bun) {
  const server = globalThis.Bun.serve({ port, hostname: "127.0.0.1", fetch: handler });
  ready(server.url.href);
} else if (globalThis.Deno) {
  globalThis.Deno.serve({ port, hostname: "127.0.0.1", onListen: () => ready(`http://127.0.0.1:${port}/`) }, handler);
} else {
  const [{ createServer }, { toNodeListener }] = await Promise.all([
    import("node:http"),
    import("slack-oauth-kit/http/node"),
  ]);
  createServer(toNodeListener(handler)).listen(port, "127.0.0.1", () => ready(`http://127.0.0.1:${port}/`));
}

const stop = () => process.exit(0);
if (globalThis.Deno) globalThis.Deno.addSignalListener("SIGTERM", stop);
else process.on("SIGTERM", stop);
