/**
 * The few Bun and Deno APIs the examples use, declared for this repository's type check only (it runs
 * with Node's types). Your own project has the runtimes' real types: `@types/bun`, or Deno's built-ins.
 */
declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: { port: number; hostname: string; fetch(request: Request): Response | Promise<Response> }): {
    url: URL;
    stop(closeActiveConnections?: boolean): Promise<void>;
  };
};

declare const Deno: {
  env: { get(name: string): string | undefined };
  exit(code?: number): never;
  serve(
    options: { port: number; hostname: string; onListen?: (address: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
};

declare module "npm:pg@^8" {
  import pg from "pg";
  export default pg;
}
