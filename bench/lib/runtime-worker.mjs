/**
 * The app of `npm run bench -- runtimes` as a Cloudflare Worker (workerd, through Miniflare): the handler
 * of runtime-handler.mjs, as runtime-app.mjs serves it on the other runtimes, built by the first request of
 * the isolate from the bindings SIGNING_SECRET and BENCH_INSTALLATIONS (a Worker gets its configuration with
 * its first request). Bundled by esbuild; `nodejs_compat` provides node:crypto.
 */
import { buildBenchHandler } from "./runtime-handler.mjs";

let handler;

export default {
  async fetch(request, env) {
    handler ??= buildBenchHandler({
      signingSecret: env.SIGNING_SECRET ?? "",
      installations: Number(env.BENCH_INSTALLATIONS ?? 1000),
    });
    return (await handler)(request);
  },
};
