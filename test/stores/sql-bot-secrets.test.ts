import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";

const inst = (userId: string, bot: string): Installation => ({
  teamId: "T1",
  userId,
  botToken: bot,
  botRefreshToken: `xoxe-1-test-refresh-${userId}`,
  botScopes: ["chat:write"],
  userToken: `xoxp-test-${userId}`,
  userScopes: [],
  isEnterpriseInstall: false,
  installedAt: 1_700_000_000,
  customValues: {},
});

describe("SQL stores keep the bot's secrets in the bots table only", () => {
  it("installation rows never store a copy of the bot token or its refresh token", async () => {
    const db = new Database(":memory:");
    const store = new SQLiteInstallationStore({ database: db });
    await store.save(inst("U1", "xoxb-test-one"));
    await store.save(inst("U2", "xoxb-test-two"));
    const rows = db.prepare("SELECT bot_token, bot_refresh_token, user_token FROM slack_installations").all();
    expect(rows).toEqual([
      { bot_token: null, bot_refresh_token: null, user_token: "xoxp-test-U1" },
      { bot_token: null, bot_refresh_token: null, user_token: "xoxp-test-U2" },
    ]);
    // ...while every lookup still carries the latest bot.
    expect((await store.findInstallation({ teamId: "T1", userId: "U1" }))?.botToken).toBe("xoxb-test-two");
    await store.close();
  });

  it("a bot token update clears the copies that rows from older versions kept", async () => {
    const db = new Database(":memory:");
    const store = new SQLiteInstallationStore({ database: db });
    await store.save(inst("U1", "xoxb-test-old"));
    db.prepare(
      "UPDATE slack_installations SET bot_token = 'xoxb-test-legacy-copy', bot_refresh_token = 'xoxe-1-legacy'",
    ).run();
    const ok = await store.updateTokens(
      { teamId: "T1" },
      { botToken: "xoxb-test-new", botRefreshToken: "xoxe-1-test-new" },
      { botToken: "xoxb-test-old" },
    );
    expect(ok).toBe(true);
    const row = db.prepare("SELECT bot_token, bot_refresh_token, user_token FROM slack_installations").get();
    expect(row).toEqual({ bot_token: null, bot_refresh_token: null, user_token: "xoxp-test-U1" });
    expect((await store.findBot({ teamId: "T1" }))?.botToken).toBe("xoxb-test-new");
    await store.close();
  });
});
