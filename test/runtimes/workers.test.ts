/**
 * The Cloudflare Workers example (examples/cloudflare: worker.ts and its wrangler.jsonc) in workerd,
 * against the emulator (which runs here, in Node; the Worker reaches it over 127.0.0.1): a full install
 * with the state cookie kept across the redirect, Sign in with Slack, a signed `/open-modal` answered with
 * the installed bot token, a bad signature refused, an uninstall removing the tokens from D1 and KV; the
 * tokens are encrypted at rest (no plaintext token in a D1 row or a KV value), and without its key the
 * Worker refuses to run. The
 * Worker is bundled from the same file wrangler deploys and run with the settings and bindings its
 * wrangler.jsonc names (D1 and KV local to Miniflare).
 */
import { randomBytes } from "node:crypto";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { bundleWorker, nodeImports, optionsFromWrangler, readWranglerConfig, startWorker } from "../workers/workerd.js";
import { exampleEnv, expectBadSignaturesRefused, installWithStateCookie, signInWithSlack } from "./example-checks.js";
import { freePort } from "./runtimes.js";

const TEAM = "T0000000002";
const USER = "U0000000005";
const config = readWranglerConfig("examples/cloudflare/wrangler.jsonc");

describe("examples/cloudflare/worker.ts in workerd (D1 + KV, nodejs_compat)", () => {
  let emu: Emulator;
  let mf: Miniflare;
  let code: string;
  let url: string;
  let stderr = "";
  const prefix = config.vars?.TABLE_PREFIX ?? "slack_";

  /** Reads D1 the Worker wrote (rows as arrays). */
  const sql = async (query: string, ...params: unknown[]) => {
    const db = (await mf.getD1Database("DB")) as unknown as {
      prepare(q: string): { bind(...v: unknown[]): { raw(): Promise<unknown[][]> } };
    };
    return db
      .prepare(query)
      .bind(...params)
      .raw();
  };
  const kvKeys = async () => {
    const kv = (await mf.getKVNamespace("INSTALLATION_CACHE")) as unknown as {
      list(): Promise<{ keys: { name: string }[] }>;
    };
    return (await kv.list()).keys.map((k) => k.name);
  };
  /** Every KV entry as stored (the raw value text). */
  const kvValues = async () => {
    const kv = (await mf.getKVNamespace("INSTALLATION_CACHE")) as unknown as {
      list(): Promise<{ keys: { name: string }[] }>;
      get(name: string): Promise<string | null>;
    };
    const names = (await kv.list()).keys.map((k) => k.name);
    return Promise.all(names.map(async (name) => ({ name, value: (await kv.get(name)) ?? "" })));
  };
  // The Worker's token encryption key, as `slack-oauth-kit keygen` prints it.
  const encryptionKey = `k1:${randomBytes(32).toString("base64")}`;
  const bindings = (): Record<string, string> => ({
    ...exampleEnv(emu, url),
    SLACK_TOKEN_ENCRYPTION_KEY: encryptionKey,
  });
  const stdio = {
    handleRuntimeStdio(out: NodeJS.ReadableStream, err: NodeJS.ReadableStream) {
      out.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      err.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
    },
  };

  beforeAll(async () => {
    code = await bundleWorker(`examples/cloudflare/${config.main}`);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    emu = await startEmulator({ appUrl: url, signingSecret: randomBytes(16).toString("hex") });
    mf = await startWorker(code, { ...optionsFromWrangler(config, bindings()), host: "127.0.0.1", port, ...stdio });
  });

  afterAll(async () => {
    await mf?.dispose();
    await emu?.close();
  });

  it("runs with the configuration's nodejs_compat flag and imports node:crypto only (node:http/https: never taken)", () => {
    expect(config.compatibility_flags).toContain("nodejs_compat");
    expect(config.d1_databases?.map((d) => d.binding)).toEqual(["DB"]);
    const imports = nodeImports(code);
    expect(imports.filter((m) => m !== "node:http" && m !== "node:https")).toEqual(["node:crypto"]);
  });

  it("installs: the state cookie set by /slack/install comes back on the callback; the installation is in D1", async () => {
    const { status, html } = await installWithStateCookie(url, TEAM, USER);
    expect(status, `${html}\n${stderr}`).toBe(200);
    expect(html).toContain("Installation complete");
    const rows = await sql(`SELECT bot_token, team_id FROM "${prefix}bots"`);
    expect(rows).toHaveLength(1);
    // Encrypted at rest: the raw D1 row holds a ciphertext under the configured key id, no token.
    expect(rows[0]?.[0]).toMatch(/^enc:v1:k1:/);
    expect(rows[0]?.[1]).toBe(TEAM);
    const users = await sql(`SELECT user_token FROM "${prefix}installations" WHERE team_id = ?`, TEAM);
    for (const [token] of users) if (token !== null) expect(token).toMatch(/^enc:v1:k1:/);
    expect(JSON.stringify(await sql(`SELECT * FROM "${prefix}bots"`))).not.toMatch(/xox[bp]-/);
    expect(JSON.stringify(await sql(`SELECT * FROM "${prefix}installations"`))).not.toMatch(/xox[bp]-/);
    // The state was spent in D1 (a tombstone), never in KV.
    const states = await sql(`SELECT consumed_at FROM "${prefix}oauth_states" WHERE consumed_at IS NOT NULL`);
    expect(states.length).toBeGreaterThanOrEqual(1);
    expect((await kvKeys()).filter((k) => !k.includes(":bot") && !k.includes(":user:"))).toEqual([]);
    expect(emu.calls("oauth.v2.access").at(-1)).toMatchObject({ ok: true });
  });

  it("Sign in with Slack: login page → Slack → callback verifies the id_token and shows the user", async () => {
    await signInWithSlack(url, TEAM, USER);
  });

  it("a signed /open-modal opens the modal with the installed bot token (looked up through KV)", async () => {
    const res = await emu.sendSlashCommand({ teamId: TEAM, userId: USER, command: "/open-modal" });
    expect(res.status, res.body).toBe(200);
    expect(res.body).toBe("");
    expect(emu.calls("views.open").at(-1)).toEqual({ method: "views.open", teamId: TEAM, ok: true, error: null });
    expect(emu.views().at(-1)).toMatchObject({ teamId: TEAM, userId: USER, view: { callback_id: "modal-id" } });
    // The lookup filled the KV cache with what D1 holds: ciphertexts, no plaintext token.
    expect(await kvKeys()).toContain(`slack-oauth-kit:::${TEAM}:bot`);
    const cachedValues = await kvValues();
    expect(cachedValues.find((e) => e.name === `slack-oauth-kit:::${TEAM}:bot`)?.value).toMatch(/"enc:v1:k1:/);
    for (const { value } of cachedValues) expect(value).not.toMatch(/xox[bp]-/);
    // A second command is answered from KV (decrypted in the Worker).
    const again = await emu.sendSlashCommand({ teamId: TEAM, userId: USER, command: "/open-modal" });
    expect(again.status, again.body).toBe(200);
    expect(emu.calls("views.open").filter((c) => c.ok)).toHaveLength(2);
  });

  it("a bad or missing signature → 401, and nothing is called", async () => {
    await expectBadSignaturesRefused(url, emu, TEAM, USER);
  });

  it("an uninstall (signed app_uninstalled + tokens_revoked) removes the tokens from D1 and the KV entries", async () => {
    const result = await emu.uninstall({ teamId: TEAM });
    expect(result.deliveries).toEqual([
      { type: "app_uninstalled", status: 200, ok: true },
      { type: "tokens_revoked", status: 200, ok: true },
    ]);
    expect(await sql(`SELECT bot_token FROM "${prefix}bots" WHERE team_id = ?`, TEAM)).toEqual([]);
    expect(await sql(`SELECT user_token FROM "${prefix}installations" WHERE team_id = ?`, TEAM)).toEqual([]);
    expect((await kvKeys()).filter((k) => k.includes(TEAM))).toEqual([]);
    // A (signed) command after the uninstall finds no installation: D1 and KV both forgot it.
    const body = new URLSearchParams({ command: "/open-modal", team_id: TEAM, user_id: USER, trigger_id: "1.2.x" });
    const signed = new SignatureSigner(emu.app.signingSecret).headers(body.toString());
    const res = await fetch(`${url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...signed },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Please install this app first!");
    expect(stderr).not.toMatch(/xox[bpe]-/);
  });

  it("without SLACK_TOKEN_ENCRYPTION_KEY the Worker refuses every request (fails closed, naming what is missing)", async () => {
    const { SLACK_TOKEN_ENCRYPTION_KEY: _key, ...rest } = bindings();
    const port = Number(new URL(url).port);
    await mf.setOptions({
      ...optionsFromWrangler(config, rest),
      host: "127.0.0.1",
      port,
      ...stdio,
      modules: true,
      script: code,
    } as never);
    const before = (await sql(`SELECT COUNT(*) FROM "${prefix}oauth_states"`))[0]?.[0];
    const res = await fetch(`${url}/slack/install`, { redirect: "manual" });
    expect(res.status).toBe(500);
    // The Worker's exception (Miniflare shows it in the response; Cloudflare puts it in the Worker's logs).
    const body = await res.text();
    expect(body).toContain("SLACK_TOKEN_ENCRYPTION_KEY is not set");
    // Nothing was started: no state written, no redirect to Slack.
    expect((await sql(`SELECT COUNT(*) FROM "${prefix}oauth_states"`))[0]?.[0]).toBe(before);
    expect(body + stderr).not.toContain(encryptionKey.slice(3));
  });
});
