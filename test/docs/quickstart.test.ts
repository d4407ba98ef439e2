import { type ChildProcessByStdio, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { consent } from "../emulator/helpers.js";
import { freePort } from "../helpers/ports.js";

// The README's quick start is run as written: its ```ts block is copied into a file inside the package
// (so `slack-oauth-kit` resolves to this package's own dist/ by self-reference), started with the emulator's
// credentials in the environment, installed through the emulator's consent page, and sent a signed command.
const root = new URL("../../", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Quick start"));
const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";

describe("README quick start", () => {
  const dir = join(root, ".tmp", `quickstart-${process.pid}`);
  let emu: Emulator;
  let app: ChildProcessByStdio<null, Readable, Readable>;
  let appUrl = "";
  let output = "";

  beforeAll(async () => {
    expect(code).toContain("new OAuthFlow(");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "app.ts"), code);
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    emu = await startEmulator({ appUrl });
    app = spawn(process.execPath, ["--import", "tsx", join(dir, "app.ts")], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        DATABASE_FILE: join(dir, "app.db"),
        SLACK_CLIENT_ID: emu.app.clientId,
        SLACK_CLIENT_SECRET: emu.app.clientSecret,
        SLACK_SIGNING_SECRET: emu.app.signingSecret,
        SLACK_API_URL: emu.apiUrl,
        SLACK_AUTHORIZE_URL: emu.authorizeUrl,
      },
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes(`listening on ${port}`)) resolve();
      };
      app.stdout.on("data", onData);
      app.stderr.on("data", onData);
      app.once("exit", (status) => reject(new Error(`the quick start exited (${status}):\n${output}`)));
    });
  }, 60_000);

  afterAll(async () => {
    app?.kill();
    await emu?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("installs through the emulator and answers a signed command with the workspace's own bot token", async () => {
    const teamId = emu.world.workspaces[0]!.id;
    const page = await fetch(`${appUrl}/slack/install`);
    expect(page.status).toBe(200);
    const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const href = /id="add-to-slack" href="([^"]+)"/.exec(await page.text())?.[1]?.replaceAll("&amp;", "&");
    expect(href).toBeDefined();
    const authorizeUrl = new URL(href!);
    expect(authorizeUrl.origin).toBe(emu.url);

    const approved = await consent(emu, Object.fromEntries(authorizeUrl.searchParams), { team: teamId });
    expect(approved.status).toBe(302);
    const callback = await fetch(approved.location!, { headers: { cookie }, redirect: "manual" });
    expect(callback.status).toBe(200);

    const answer = await emu.sendSlashCommand({ teamId, command: "/hello" });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ response_type: "ephemeral", text: `Posted in ${teamId}` });
    const posted = emu.calls("chat.postMessage");
    expect(posted.map((c) => [c.teamId, c.ok])).toEqual([[teamId, true]]);

    // Without the state cookie the same kind of callback is refused: the quick start keeps the browser binding.
    const again = await consent(emu, Object.fromEntries(authorizeUrl.searchParams), { team: teamId });
    const bare = await fetch(again.location!, { redirect: "manual" });
    expect(bare.status).toBeGreaterThanOrEqual(400);
    expect(bare.status).toBeLessThan(500);
  });
});
