import { ConfigProblems, loadConfig } from "../app/config.js";
import { ConfigError, EncryptionError } from "../errors.js";
import { redact } from "../redact.js";
import { type Command, ExitCode, parseOptions, parsePort } from "./command.js";

/** `slack-oauth-kit serve` (= `npm start`): the reference server; sandbox mode without Slack credentials. */
export const serveCommand: Command = {
  name: "serve",
  summary: "Run the reference server (install page, OAuth callback, events, sign-in).",
  usage: [
    "slack-oauth-kit serve [--port N] [--host H] [--sandbox]",
    "",
    "Configuration comes from the environment: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET,",
    "SLACK_SCOPES, SLACK_USER_SCOPES, SLACK_REDIRECT_URI, SLACK_API_URL, SLACK_AUTHORIZE_URL,",
    "SLACK_OIDC_BASE_URL, DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX, SLACK_TOKEN_ENCRYPTION_KEY, PORT (default 3000), HOST.",
    "Flood limits: INSTALL_RATE_LIMIT (30) per INSTALL_RATE_WINDOW_SECONDS (60) per client address, TRUST_PROXY",
    "(use X-Forwarded-For), MAX_CONNECTIONS_PER_ADDRESS (100), HEADERS_TIMEOUT_SECONDS (10), BODY_TIMEOUT_SECONDS (10).",
    "Without SLACK_CLIENT_ID and SLACK_BOT_TOKEN the server runs in sandbox mode against the built-in Slack emulator,",
    "unless something of a real deployment is set (SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET,",
    "SLACK_TOKEN_ENCRYPTION_KEY, DATABASE_URL, a PUBLIC_URL or HOST other than this machine): that is exit 2.",
    "--sandbox (or SLACK_SANDBOX=1) asks for the sandbox explicitly; with Slack credentials set it is exit 2.",
    "With SLACK_BOT_TOKEN (+ SLACK_SIGNING_SECRET, optionally SLACK_USER_TOKEN) and no SLACK_CLIENT_ID it runs in",
    "single-workspace mode: no OAuth, the token is checked with auth.test at start and serves its workspace.",
    "Prometheus metrics: METRICS_PORT=<port> serves /metrics on a port of its own; METRICS_TOKEN (16+ characters)",
    "serves /metrics on the main port behind Authorization: Bearer <token> (required there: METRICS_PORT=main",
    "without METRICS_TOKEN is a configuration error); METRICS_HOST, METRICS_APP (the app label, default the client id).",
    "Several apps: SLACK_APPS_FILE names a JSON file listing them (name, clientId, appId, secrets inline with the file",
    'at mode 0600 or as { "env": "VARIABLE" }, scopes, userScopes, redirectUri, default, paths); each app is served on',
    "/slack/<name>/install, /slack/<name>/oauth_redirect, /slack/<name>/events and /slack/<name>/login (see docs/server.md).",
    "Tokens and secrets are read from the environment only, never from flags.",
    "Exit codes: 0 stopped cleanly, 1 failed (e.g. Slack unreachable at start), 2 bad configuration",
    "(including a token Slack refuses at start, or of the wrong kind).",
  ].join("\n"),
  async run(argv) {
    const { values } = parseOptions(argv, {
      port: { type: "string" },
      host: { type: "string" },
      sandbox: { type: "boolean" },
    });
    let config: ReturnType<typeof loadConfig>;
    try {
      // --host counts as HOST (a sandbox listening beyond this machine is refused like HOST=0.0.0.0).
      config = loadConfig({
        ...process.env,
        ...(values.host !== undefined ? { HOST: values.host } : {}),
        ...(values.sandbox === true ? { SLACK_SANDBOX: "1" } : {}),
      });
    } catch (error) {
      if (error instanceof ConfigProblems) {
        console.error(error.message);
        return ExitCode.Usage;
      }
      throw error;
    }
    if (values.port !== undefined) config.port = parsePort(values.port, config.port);
    for (const w of config.warnings) console.error(`warning: ${w}`);
    const { startServer } = await import("../app/server.js");
    let running: Awaited<ReturnType<typeof startServer>>;
    try {
      running = await startServer(config);
    } catch (error) {
      // A token Slack refuses (auth.test), an unsupported DATABASE_URL, an encrypted store without its key
      // (or with the wrong one): configuration to fix, not a crash.
      if (error instanceof ConfigError || error instanceof EncryptionError) {
        console.error(redact(error.message));
        return ExitCode.Usage;
      }
      throw error;
    }
    const single = running.singleWorkspace;
    if (running.metricsUrl) process.stdout.write(`metrics: ${running.metricsUrl}\n`);
    if (config.apps) {
      const lines = config.apps.map(
        (a) =>
          `  ${a.name} (${a.appId}, client id ${a.clientId}${a.default ? ", default partition" : ""})\n    install:  ${running.url}${a.paths.install}\n    redirect: ${running.url}${a.paths.redirect}\n    events:   ${running.url}${a.paths.events}\n    sign in:  ${running.url}${a.paths.login}`,
      );
      process.stdout.write(
        `\nslack-oauth-kit is running on ${running.url}/ with ${config.apps.length} apps${config.sandbox ? ` in SANDBOX mode (emulator ${running.emulator?.url ?? ""})` : ""}:\n${lines.join("\n")}\n  shared events path (routed by api_app_id): ${running.url}/slack/events\n\nPress Ctrl+C to stop.\n`,
      );
    } else
      process.stdout.write(
        single
          ? `\nslack-oauth-kit is running on ${running.url}/ in SINGLE-WORKSPACE mode (SLACK_BOT_TOKEN) for ${single.isEnterpriseInstall ? `org ${single.enterpriseId}` : `workspace ${single.teamId}`}${single.teamName ? ` (${single.teamName})` : ""}.\n  events:   ${running.url}/slack/events\n\nPress Ctrl+C to stop.\n`
          : config.sandbox
            ? `\nslack-oauth-kit is running in SANDBOX mode (no SLACK_CLIENT_ID): a local Slack emulator plays Slack.\n\n  Open ${running.url}/ and click "Add to Slack".\n\n  Emulator: ${running.emulator?.url ?? ""}\n\nPress Ctrl+C to stop.\n`
            : `\nslack-oauth-kit is running on ${running.url}/\n  install:  ${running.url}/slack/install\n  redirect: ${running.url}/slack/oauth_redirect\n  events:   ${running.url}/slack/events\n\nPress Ctrl+C to stop.\n`,
      );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    process.stdout.write("Shutting down: finishing in-flight requests...\n");
    await running.close();
    return ExitCode.Ok;
  },
};
