import type { EmulatorAppOptions } from "../emulator/apps.js";
import { type Command, ExitCode, parseOptions, parsePort, UsageError } from "./command.js";

/** `slack-oauth-kit emulator`: runs the local Slack emulator alone until interrupted. */
export const emulatorCommand: Command = {
  name: "emulator",
  summary: "Run the local Slack emulator (OAuth, Web API, OIDC, events) for development and tests.",
  usage: [
    "slack-oauth-kit emulator [--port N] [--host H] [--app-url URL]",
    "                         [--client-id ID] [--client-secret S] [--signing-secret S]",
    "                         [--rotation] [--expires-in SECONDS] [--pkce] [--world FILE]",
    "       slack-oauth-kit emulator [--port N] [--host H] [--app-url URL] --apps FILE [--world FILE]",
    "",
    "  --port N            port to listen on (default 0: a free port; env EMULATOR_PORT)",
    "  --host H            interface to bind (default 127.0.0.1)",
    "  --app-url URL       your app's base URL: redirects go to {URL}/slack/oauth_redirect and",
    "                      {URL}/slack/login/callback, events and commands to {URL}/slack/events",
    "                      (default http://localhost:3000)",
    "  --client-id ID      the app's client id (random unless given)",
    "  --client-secret S   the app's client secret (random unless given)",
    "  --signing-secret S  the app's signing secret (random unless given)",
    "  --rotation          turn token rotation on for the app",
    "  --expires-in N      access token lifetime with rotation, in seconds (default 43200)",
    "  --pkce              allow PKCE (public client) code exchange",
    "  --world FILE        JSON file describing the workspaces, orgs and users (see docs/emulator.md)",
    "  --apps FILE         several apps: a JSON list, each app with its own name, appId, clientId,",
    "                      clientSecret, signingSecret, requestUrl (events, commands, interactions),",
    "                      redirectUrls or appUrl, tokenRotation, tokenExpiresIn, pkce, botScopes,",
    "                      userScopes (each optional: random ids and secrets, --app-url's URLs). The",
    "                      first app is the default one. Not with the single-app flags above.",
    "                      A bad file exits 2 naming the app and the field.",
  ].join("\n"),
  async run(argv) {
    const { values } = parseOptions(argv, {
      port: { type: "string" },
      host: { type: "string" },
      "app-url": { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      "signing-secret": { type: "string" },
      rotation: { type: "boolean" },
      "expires-in": { type: "string" },
      pkce: { type: "boolean" },
      world: { type: "string" },
      apps: { type: "string" },
    });
    const { startEmulator } = await import("../emulator/index.js");
    const { readEmulatorAppsFile } = await import("../emulator/apps.js");
    const perApp = ["client-id", "client-secret", "signing-secret", "rotation", "expires-in", "pkce"] as const;
    let fileApps: EmulatorAppOptions[] | undefined;
    if (values.apps !== undefined) {
      const given = perApp.filter((k) => values[k] !== undefined);
      if (given.length > 0)
        throw new UsageError(`--apps: give ${given.map((k) => `--${k}`).join(", ")} per app in the apps file instead`);
      try {
        fileApps = readEmulatorAppsFile(values.apps);
      } catch (error) {
        if (error instanceof TypeError) throw new UsageError(error.message);
        throw error;
      }
    }
    const expiresIn = values["expires-in"] === undefined ? undefined : Number(values["expires-in"]);
    if (expiresIn !== undefined && !(Number.isInteger(expiresIn) && expiresIn > 0)) {
      throw new UsageError("--expires-in must be a positive integer number of seconds");
    }
    const emulator = await startEmulator({
      port: parsePort(values.port ?? process.env.EMULATOR_PORT, 0),
      host: values.host ?? "127.0.0.1",
      appUrl: values["app-url"] ?? "http://localhost:3000",
      ...(values["client-id"] ? { clientId: values["client-id"] } : {}),
      ...(values["client-secret"] ? { clientSecret: values["client-secret"] } : {}),
      ...(values["signing-secret"] ? { signingSecret: values["signing-secret"] } : {}),
      ...(values.rotation ? { tokenRotation: true } : {}),
      ...(expiresIn ? { tokenExpiresIn: expiresIn } : {}),
      ...(values.pkce ? { pkce: true } : {}),
      ...(values.world ? { worldFile: values.world } : {}),
      // --apps: the first app is the default one (the top-level options), the others are `apps`.
      // Each app of the file without its own appUrl takes --app-url's (not the first app's).
      ...(fileApps !== undefined
        ? {
            ...fileApps[0],
            apps: fileApps.slice(1).map((a) => ({ appUrl: values["app-url"] ?? "http://localhost:3000", ...a })),
          }
        : {}),
    }).catch((error: unknown) => {
      // The emulator validates its options with TypeErrors: those are usage mistakes (exit 2).
      if (error instanceof TypeError) throw new UsageError(error.message);
      throw error;
    });
    const app = emulator.app;
    // These are the emulator's own local, throw-away credentials: printing them is the point.
    if (fileApps !== undefined) {
      process.stdout.write(
        [
          `Slack emulator listening on ${emulator.url}`,
          "",
          `  SLACK_API_URL=${emulator.apiUrl}`,
          `  SLACK_AUTHORIZE_URL=${emulator.authorizeUrl}`,
          `  SLACK_OIDC_BASE_URL=${emulator.url}`,
          `  test API:      ${emulator.url}/_emulator/calls`,
          "",
          ...emulator.apps.flatMap((a, i) => [
            `App ${JSON.stringify(a.name)}${i === 0 ? " (default)" : ""}`,
            `  app id:         ${a.appId}`,
            `  client id:      ${a.clientId}`,
            `  client secret:  ${a.clientSecret}`,
            `  signing secret: ${a.signingSecret}`,
            `  redirect URLs:  ${a.redirectUrls.join(", ")}`,
            `  request URL:    ${a.requestUrl}`,
            `  token rotation: ${fileApps?.[i]?.tokenRotation === true ? `on (tokens expire after ${fileApps[i]?.tokenExpiresIn ?? 43_200} s)` : "off"}`,
            "",
          ]),
          "Press Ctrl+C to stop.",
          "",
        ].join("\n"),
      );
    } else
      process.stdout.write(
        [
          `Slack emulator listening on ${emulator.url}`,
          "",
          `  SLACK_CLIENT_ID=${app.clientId}`,
          `  SLACK_CLIENT_SECRET=${app.clientSecret}`,
          `  SLACK_SIGNING_SECRET=${app.signingSecret}`,
          `  SLACK_API_URL=${emulator.apiUrl}`,
          `  SLACK_AUTHORIZE_URL=${emulator.authorizeUrl}`,
          `  SLACK_OIDC_BASE_URL=${emulator.url}`,
          "",
          `  redirect URLs: ${app.redirectUrls.join(", ")}`,
          `  request URL:   ${app.requestUrl}`,
          `  test API:      ${emulator.url}/_emulator/calls`,
          "",
          "Press Ctrl+C to stop.",
          "",
        ].join("\n"),
      );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await emulator.close();
    return ExitCode.Ok;
  },
};
