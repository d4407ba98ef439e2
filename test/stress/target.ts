/**
 * One fuzz or soak target in a process of its own, so that a crash shows as the process exiting:
 * `node --import tsx test/stress/target.ts <production|sandbox|emulator>`. It prints one JSON line on stdout,
 * `{"url": …, "pid": …}`, once listening, and serves until killed. The environment configures the server
 * (`DATABASE_URL`, the flood limits…); `STRESS_STATE_TTL_SECONDS` gives its state store a short lifetime
 * (the soak). Logs go to stderr with `STRESS_LOG=1`.
 */
import { loadConfig } from "../../src/app/config.js";
import { jsonLogger } from "../../src/app/log.js";
import { startServer } from "../../src/app/server.js";
import { type OpenedStores, openStores } from "../../src/app/stores.js";
import { startEmulator } from "../../src/emulator/index.js";

const kind = process.argv[2];
const quiet = process.env.STRESS_LOG !== "1";
const logger = jsonLogger((line) => {
  if (!quiet) process.stderr.write(`${line}\n`);
});

/** The stores of `DATABASE_URL`, the state store with `STRESS_STATE_TTL_SECONDS` when set. */
async function stores(): Promise<OpenedStores | undefined> {
  const ttl = process.env.STRESS_STATE_TTL_SECONDS;
  if (!ttl) return undefined;
  const url = process.env.DATABASE_URL ?? "";
  const opened = await openStores(url);
  const ttlSeconds = Number(ttl);
  let stateStore: OpenedStores["stateStore"];
  if (url.startsWith("file:")) {
    const { FileStateStore } = await import("../../src/stores/file.js");
    stateStore = new FileStateStore({ baseDir: `${url.slice(5).replace(/\/+$/, "")}-states`, ttlSeconds });
  } else if (url.startsWith("sqlite:")) {
    const { SQLiteStateStore } = await import("../../src/stores/sqlite.js");
    stateStore = new SQLiteStateStore({ filename: url.slice(7), ttlSeconds });
  } else throw new Error("STRESS_STATE_TTL_SECONDS needs DATABASE_URL sqlite: or file:");
  await opened.stateStore.close?.();
  return {
    installationStore: opened.installationStore,
    stateStore,
    async close() {
      await stateStore.close?.();
      await opened.installationStore.close();
    },
  };
}

async function main(): Promise<void> {
  if (kind === "emulator") {
    const emu = await startEmulator({ port: 0, appUrl: "http://localhost:9" });
    process.stdout.write(`${JSON.stringify({ url: emu.url, pid: process.pid })}\n`);
    return;
  }
  if (kind === "sandbox") {
    const opened = await stores();
    // The sandbox on purpose: DATABASE_URL alone would otherwise stop the start (no accidental sandbox).
    const running = await startServer(loadConfig({ ...process.env, PORT: "0", SLACK_SANDBOX: "1" }), {
      logger,
      ...(opened ? { stores: opened } : {}),
    });
    process.stdout.write(`${JSON.stringify({ url: running.url, pid: process.pid })}\n`);
    return;
  }
  if (kind === "production") {
    // Real mode: SLACK_* settings, talking to an emulator (started here) as it would to slack.com.
    const emu = await startEmulator({ port: 0, appUrl: "http://localhost:9" });
    const config = loadConfig({
      ...process.env,
      PORT: "0",
      SLACK_CLIENT_ID: emu.app.clientId,
      SLACK_CLIENT_SECRET: emu.app.clientSecret,
      SLACK_SIGNING_SECRET: emu.app.signingSecret,
      SLACK_API_URL: emu.apiUrl,
      SLACK_AUTHORIZE_URL: emu.authorizeUrl,
      SLACK_OIDC_BASE_URL: emu.url,
      SLACK_REDIRECT_URI: "http://localhost:9/slack/oauth_redirect",
    });
    const running = await startServer(config, { logger });
    process.stdout.write(
      `${JSON.stringify({ url: running.url, pid: process.pid, signingSecret: emu.app.signingSecret })}\n`,
    );
    return;
  }
  throw new Error(`usage: target.ts production|sandbox|emulator (got ${String(kind)})`);
}

main().catch((error: unknown) => {
  process.stderr.write(`target failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
