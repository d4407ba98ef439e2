/**
 * Reader for `@slack/oauth`'s `FileInstallationStore`: `<baseDir>[/<clientId>]/<enterpriseId>-<teamId>`
 * (or `<teamId>`, or `<enterpriseId>` for org-wide installs) holding `app-latest`, `user-<userId>-latest`
 * and timestamped history files; each the nested `Installation` JSON (`team`, `enterprise`, `bot`,
 * `user`, `incomingWebhook`, `expiresAt` in epoch seconds). It stores no install time: the file's
 * modification time stands in for it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Installation, parseScopes } from "../model/installation.js";
import { epochSeconds, type ImportRecord, type ReadResult, str } from "./common.js";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});

/** Maps an `@slack/oauth` `Installation` to ours. */
export function fromSlackOauth(d: Obj, installedAt: number): Installation {
  const team = obj(d.team);
  const ent = obj(d.enterprise);
  const bot = obj(d.bot);
  const user = obj(d.user);
  const hook = obj(d.incomingWebhook);
  const out: Obj = {
    appId: str(d.appId),
    enterpriseId: str(ent.id),
    enterpriseName: str(ent.name),
    enterpriseUrl: str(d.enterpriseUrl),
    teamId: str(team.id),
    teamName: str(team.name),
    botToken: str(bot.token),
    botId: str(bot.id),
    botUserId: str(bot.userId),
    botScopes: parseScopes(bot.scopes),
    botRefreshToken: str(bot.refreshToken),
    botTokenExpiresAt: epochSeconds(bot.expiresAt),
    userId: str(user.id),
    userToken: str(user.token),
    userScopes: parseScopes(user.scopes),
    userRefreshToken: str(user.refreshToken),
    userTokenExpiresAt: epochSeconds(user.expiresAt),
    incomingWebhookUrl: str(hook.url),
    incomingWebhookChannel: str(hook.channel),
    incomingWebhookChannelId: str(hook.channelId),
    incomingWebhookConfigurationUrl: str(hook.configurationUrl),
    isEnterpriseInstall: d.isEnterpriseInstall === true,
    tokenType: str(d.tokenType),
    installedAt,
    customValues: d.metadata !== undefined ? { metadata: d.metadata } : {},
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as unknown as Installation;
}

/** Reads the `user-*-latest` files (else `app-latest`) of every installation directory. */
export function readSlackOauthFile(baseDir: string): ReadResult {
  const records: ImportRecord[] = [];
  const skipped: string[] = [];
  const visit = (dir: string, depth: number) => {
    const names = readdirSync(dir).sort();
    const users = names.filter((f) => /^user-.+-latest$/.test(f));
    const chosen = users.length > 0 ? users : names.filter((f) => f === "app-latest");
    for (const f of chosen) {
      const p = join(dir, f);
      const source = p.slice(baseDir.length + 1);
      try {
        const i = fromSlackOauth(obj(JSON.parse(readFileSync(p, "utf8"))), Math.floor(statSync(p).mtimeMs / 1000));
        if (i.userId === undefined) {
          skipped.push(`skipped ${source}: no user.id`);
          continue;
        }
        records.push({ kind: "installation", installation: i, source });
      } catch {
        skipped.push(`skipped ${source}: not JSON`);
      }
    }
    if (depth < 2)
      for (const n of names) {
        const p = join(dir, n);
        if (statSync(p).isDirectory()) visit(p, depth + 1);
      }
  };
  visit(baseDir, 0);
  return { records, skipped };
}
