// findBot on SQLite reads one packed text value from its lookup index (PACKED_BOT_SELECT); these cases
// hold values that packing could get wrong, and check that every one comes back exactly as saved, through
// the packed read or, where it cannot be unpacked for certain, through the columns.
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Installation, toBot } from "../../src/model/installation.js";
import { SqlInstallationStore } from "../../src/stores/sql/core.js";
import type { SqlExecutor, SqlValue } from "../../src/stores/sql/dialect.js";
import { BOT_SELECT, PACKED_BOT_SELECT, unpackBotRow } from "../../src/stores/sql/rows.js";
import { BetterSqlite3Executor, type SQLiteDatabase, sqliteDialect } from "../../src/stores/sqlite.js";

const US = "\x1f";
const RS = "\x1e";

function install(teamId: string, o: Partial<Installation> = {}): Installation {
  return {
    teamId,
    userId: "U0USER0001",
    botToken: `xoxb-test-${teamId}`,
    botId: "B0BOT00001",
    botUserId: "U0BOTUSER1",
    botScopes: ["chat:write", "commands"],
    userScopes: [],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.5,
    customValues: {},
    ...o,
  };
}

// "sync": better-sqlite3's synchronous reader (prepareKeyedValue); "query": an executor without one, as D1's,
// where findBot goes through query().
describe.each(["sync", "query"] as const)("SQLite findBot: the packed lookup (%s)", (mode) => {
  let db: SQLiteDatabase;
  let store: SqlInstallationStore;
  let columns: SqlInstallationStore;
  /** The packed values read, in order (through a wrapped executor). */
  let reads: (SqlValue | undefined)[];

  beforeEach(async () => {
    db = new Database(":memory:") as unknown as SQLiteDatabase;
    const base = new BetterSqlite3Executor(db);
    reads = [];
    let exec: SqlExecutor = base;
    // Record what the packed statement returns, so a case can tell which path answered.
    if (mode === "sync") {
      const reader = base.syncReader();
      const prepareKeyedValue = reader.prepareKeyedValue?.bind(reader);
      reader.prepareKeyedValue = (sql) => {
        const read = prepareKeyedValue?.(sql);
        if (read === undefined) throw new Error("no prepareKeyedValue");
        return (a, b, c) => {
          const v = read(a, b, c);
          reads.push(v);
          return v;
        };
      };
    } else {
      exec = {
        query: async (sql, params) => {
          const rows = await base.query(sql, params);
          if (sql === store.statements.findBotPacked) reads.push(rows[0]?.[0] as SqlValue | undefined);
          return rows;
        },
        run: (sql, params) => base.run(sql, params),
        batch: (statements) => base.batch(statements),
      };
    }
    store = new SqlInstallationStore({ executor: exec, dialect: sqliteDialect });
    await store.init();
    // The same tables read column by column: what the packed reads must agree with.
    const { packedBotSelect: _, ...plain } = sqliteDialect;
    columns = new SqlInstallationStore({ executor: new BetterSqlite3Executor(db), dialect: plain });
    await columns.init();
  });
  afterEach(async () => {
    await store.close();
    await columns.close();
    db.close();
  });

  const cases: [string, Partial<Installation>][] = [
    ["plain", {}],
    [
      "every optional bot field set",
      {
        appId: "A0APP00001",
        enterpriseId: "E0ORG00001",
        enterpriseName: "Org",
        enterpriseUrl: "https://org.enterprise.slack.com/",
        teamName: "Team",
        botRefreshToken: "xoxe-1-test-refresh",
        botTokenExpiresAt: 1732563200,
        customValues: { plan: "pro", seats: 12, nested: { a: [1, "x"] } },
      },
    ],
    ["empty strings kept apart from missing values", { teamName: "", enterpriseName: "" }],
    ["names with '=' and separators of other kinds", { teamName: "=a=b,c|d\t\n", enterpriseName: "\x1e\x1d" }],
    ["non-ASCII names (astral characters too)", { teamName: "Équipe 🚀 チーム", enterpriseName: "😀" }],
    [
      "fractional and large numbers to the last digit",
      { installedAt: 1700000000000.123, botTokenExpiresAt: 9007199254740991 },
    ],
    ["zero and tiny numbers", { installedAt: 5e-324, botTokenExpiresAt: 0 }],
    ["custom values holding U+001F (escaped by JSON)", { customValues: { s: `a${US}b` } }],
    ["names holding U+001E", { teamName: `${RS}0${RS}1${RS}`, enterpriseName: `x${RS}` }],
    ["a team name holding U+001F (read from the columns)", { teamName: `a${US}b${US}` }],
    [
      "an enterprise URL holding U+001F (read from the columns)",
      { enterpriseId: "E0ORG00002", enterpriseUrl: `https://x/${US}${RS}` },
    ],
    ["tokens holding U+001F (read from the columns)", { botToken: `xoxb-${US}${RS}0`, botRefreshToken: `${US}xoxe` }],
  ];
  for (const [name, o] of cases) {
    const packed = !name.includes("read from the columns");
    it(`${name}: returned exactly as saved`, async () => {
      const i = install("T0PACKED01", o);
      await store.save(i);
      const bot = await store.findBot({ enterpriseId: i.enterpriseId, teamId: i.teamId });
      expect(bot).toStrictEqual(toBot(i));
      expect(reads).toHaveLength(1);
      expect(unpackBotRow(reads[0]) !== undefined).toBe(packed);
      // findInstallation takes its bot fields from the same packed value: the same answer as reading columns.
      const q = { enterpriseId: i.enterpriseId, teamId: i.teamId, userId: i.userId };
      const found = await store.findInstallation(q);
      expect(found?.botToken).toBe(i.botToken);
      expect(found).toStrictEqual(await columns.findInstallation(q));
      expect(await store.findInstallation({ enterpriseId: i.enterpriseId, teamId: i.teamId })).toStrictEqual(
        await columns.findInstallation({ enterpriseId: i.enterpriseId, teamId: i.teamId }),
      );
      expect(bot).toStrictEqual(await columns.findBot({ enterpriseId: i.enterpriseId, teamId: i.teamId }));
    });
  }

  it("an org-wide bot and a missing one", async () => {
    const org = install("T0IGNORED1", { enterpriseId: "E0ORG00003", isEnterpriseInstall: true });
    delete (org as Partial<Installation>).teamId;
    await store.save(org);
    expect(
      await store.findBot({ enterpriseId: "E0ORG00003", teamId: "T0ANYTEAM1", isEnterpriseInstall: true }),
    ).toStrictEqual(toBot(org));
    expect(await store.findBot({ teamId: "T0NOBODY01" })).toBeUndefined();
    expect(reads.at(-1)).toBeUndefined();
  });

  it("after a token refresh, the packed value in the index follows the row", async () => {
    const i = install("T0PACKED02", { botRefreshToken: "xoxe-1-old", botTokenExpiresAt: 1732563200 });
    await store.save(i);
    expect((await store.findBot({ teamId: "T0PACKED02" }))?.botToken).toBe("xoxb-test-T0PACKED02");
    db.prepare("UPDATE slack_bots SET bot_token = ?, bot_token_expires_at = ? WHERE team_id = ?").run(
      "xoxb-test-new",
      1732570000.25,
      "T0PACKED02",
    );
    const bot = await store.findBot({ teamId: "T0PACKED02" });
    expect(bot?.botToken).toBe("xoxb-test-new");
    expect(bot?.botTokenExpiresAt).toBe(1732570000.25);
    expect(unpackBotRow(reads.at(-1))).toBeDefined();
  });
});

describe("unpackBotRow", () => {
  const pack = (values: (string | number | null)[]) => values.map((v) => (v === null ? "" : `=${v}`)).join(US);
  const row = (n: number) => Array.from({ length: BOT_SELECT.length }, (_, k) => (k === n ? null : `v${k}`));

  it("mirrors PACKED_BOT_SELECT: one part per BOT_SELECT column", () => {
    const parts = PACKED_BOT_SELECT.split(" || char(31) || ");
    expect(parts).toHaveLength(BOT_SELECT.length);
    for (const [i, c] of BOT_SELECT.entries()) {
      expect(parts[i]).toMatch(new RegExp(`^ifnull\\('=' \\|\\| (replace\\(replace\\()?${c}[,)]`));
    }
  });
  it("'' is NULL, '=' is an empty string, numbers come back as numbers", () => {
    const v = row(0);
    v[1] = "";
    v[9] = "1732563200.0";
    v[10] = "1";
    v[11] = "1.0e+300";
    const r = unpackBotRow(pack(v)) as SqlValue[];
    expect(r[0]).toBeNull();
    expect(r[1]).toBe("");
    expect(r[9]).toBe(1732563200);
    expect(r[10]).toBe(1);
    expect(r[11]).toBe(1e300);
    expect(r[4]).toBe("v4");
  });
  it("undefined for anything that is not a packed value; Inf is Infinity", () => {
    expect(unpackBotRow(undefined)).toBeUndefined();
    expect(unpackBotRow(null)).toBeUndefined();
    expect(unpackBotRow(12)).toBeUndefined();
    expect(unpackBotRow(pack(row(0)).replace("=v3", `=v${US}3`))).toBeUndefined();
    expect(unpackBotRow(pack(row(0).slice(1)))).toBeUndefined();
    const inf = row(0);
    inf[9] = "Inf";
    inf[11] = "-Inf";
    const r = unpackBotRow(pack(inf)) as SqlValue[];
    expect(r[9]).toBe(Number.POSITIVE_INFINITY);
    expect(r[11]).toBe(Number.NEGATIVE_INFINITY);
  });
});
