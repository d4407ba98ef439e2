/**
 * `serve` never falls back to the sandbox by accident: production settings without a client id (or bot
 * token) stop it with exit 2 naming what is missing; `--sandbox` asks for the sandbox and refuses Slack
 * credentials.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli-helpers.js";

const hex = () => randomBytes(16).toString("hex");

describe("serve: no accidental sandbox", () => {
  it("secrets and a production database without SLACK_CLIENT_ID: exit 2, nothing started, secrets not echoed", async () => {
    const signing = hex();
    const r = await runCli(["serve"], {
      env: { SLACK_SIGNING_SECRET: signing, DATABASE_URL: "postgres://app@127.0.0.1:1/app", PORT: "0" },
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/SLACK_SIGNING_SECRET is set, but neither SLACK_CLIENT_ID nor SLACK_BOT_TOKEN is set/);
    expect(r.stderr).toMatch(/DATABASE_URL is set/);
    expect(r.stdout).not.toMatch(/SANDBOX mode|is running/);
    expect(r.stdout + r.stderr).not.toContain(signing);
  });

  it("--sandbox with a Slack credential set: exit 2 naming it", async () => {
    const r = await runCli(["serve", "--sandbox"], { env: { SLACK_CLIENT_SECRET: hex(), PORT: "0" } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--sandbox\) runs against the built-in emulator, but SLACK_CLIENT_SECRET is set/);
  });
});
