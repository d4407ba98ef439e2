/**
 * Reader for `@slack/oauth` (v4) `FileInstallationStore`. The library names an installation's folder by
 * plain string concatenation after `path.join(baseDir[, clientId], enterpriseId)`:
 *
 * - a workspace install: `<baseDir><teamId>`, i.e. BESIDE the base folder (`./installsT0123`) unless
 *   `baseDir` ends in `/` (`./installs/T0123`); with `clientId`: `<baseDir>/<clientId><teamId>`;
 * - an Enterprise Grid workspace install: `<baseDir>/[<clientId>/]<enterpriseId>-<teamId>`;
 * - an org-wide install: `<baseDir>/[<clientId>/]<enterpriseId>`.
 *
 * Each folder holds `app-latest` (the latest installation of any user), `user-<userId>-latest` and, with
 * history on (the default), `app-<ms>` / `user-<userId>-<ms>` copies; each the nested `Installation` JSON
 * (`team`, `enterprise`, `bot`, `user`, `incomingWebhook`, `expiresAt` in epoch seconds). Only folders named
 * exactly so are read. The library stores no install time: the newest history file's timestamp stands in
 * for it, else the file's modification time.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Bot, type Installation, parseScopes } from "../model/installation.js";
import { epochSeconds, type ImportRecord, isClientId, type ReadResult, str } from "./common.js";

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

const TEAM = "T[A-Z0-9]{2,63}";
const ENTERPRISE = "E[A-Z0-9]{2,63}";
/** The client ids `@slack/oauth` folders are recognised by without `--client-id`: Slack's `digits.digits`. */
const SLACK_CLIENT_ID = "\\d+\\.\\d+";
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

interface Folder {
  path: string;
  /** How the folder is named in messages (relative to the base folder's parent). */
  label: string;
  clientId: string | undefined;
  enterpriseId: string | undefined;
  teamId: string | undefined;
}

/**
 * The installation folders `@slack/oauth` writes for `baseDir` (as the app was configured: a trailing `/`
 * matters) and, when given, for one `clientId`; without it, every `digits.digits` client id found.
 */
export function slackOauthFolders(baseDir: string, clientId?: string): Folder[] {
  const dir = baseDir.replace(/\/+$/, "") || "/";
  const name = basename(dir);
  const parent = dirname(dir);
  const folders: Folder[] = [];
  const client = clientId !== undefined ? reEscape(clientId) : SLACK_CLIENT_ID;
  const list = (d: string) => {
    try {
      return readdirSync(d).sort();
    } catch {
      return [];
    }
  };
  const add = (path: string, label: string, c: string | undefined, e: string | undefined, t: string | undefined) => {
    if (isDir(path)) folders.push({ path, label, clientId: c, enterpriseId: e, teamId: t });
  };
  // Workspace installs without clientId: `<baseDir><teamId>` beside the folder (no trailing slash) …
  const sibling = new RegExp(`^${reEscape(name)}(${TEAM})$`);
  for (const n of list(parent)) {
    const m = sibling.exec(n);
    if (m) add(join(parent, n), n, undefined, undefined, m[1]);
  }
  const inner = new RegExp(`^(?:(${TEAM})|(${ENTERPRISE})(?:-(${TEAM}))?|(${client})(${TEAM})|(${client}))$`);
  for (const n of list(dir)) {
    const m = inner.exec(n);
    if (!m) continue;
    const p = join(dir, n);
    const label = `${name}/${n}`;
    // … or inside it (trailing slash); Grid and org-wide installs always inside.
    if (m[1] !== undefined) add(p, label, undefined, undefined, m[1]);
    else if (m[2] !== undefined) add(p, label, undefined, m[2], m[3]);
    else if (m[4] !== undefined) add(p, label, m[4], undefined, m[5]);
    else if (m[6] !== undefined && isDir(p)) {
      // `<baseDir>/<clientId>/` holds the Grid and org-wide installs of that app.
      const grid = new RegExp(`^(${ENTERPRISE})(?:-(${TEAM}))?$`);
      for (const g of list(p)) {
        const gm = grid.exec(g);
        if (gm) add(join(p, g), `${label}/${g}`, m[6], gm[1], gm[2]);
      }
    }
  }
  return folders;
}

/** The newest `<prefix><ms>` history file's time in epoch seconds, else the modification time of `latest`. */
function installedAt(dir: string, files: readonly string[], prefix: string, latest: string): number {
  let ms = -1;
  for (const f of files) {
    if (!f.startsWith(prefix)) continue;
    const rest = f.slice(prefix.length);
    if (/^\d{10,16}$/.test(rest)) ms = Math.max(ms, Number(rest));
  }
  return ms >= 0 ? ms / 1000 : Math.floor(statSync(join(dir, latest)).mtimeMs) / 1000;
}

/**
 * Reads the installation folders of an `@slack/oauth` `FileInstallationStore` as its `fetchInstallation`
 * reads them back: each user's installation is the folder's `app-latest` with the `user` of that user's
 * `user-<userId>-latest`; `app-latest` is also the folder's latest bot. In a folder without any
 * `user-*-latest`, `app-latest` is the one installation. History files are not imported.
 */
export function readSlackOauthFile(baseDir: string, options: { clientId?: string | undefined } = {}): ReadResult {
  const records: ImportRecord[] = [];
  const skipped: string[] = [];
  for (const folder of slackOauthFolders(baseDir, options.clientId)) {
    if (folder.clientId !== undefined && !isClientId(folder.clientId)) continue;
    const clientId = folder.clientId;
    const files = readdirSync(folder.path).sort();
    const source = (f: string) => `${folder.label}/${f}`;
    /** A file's JSON object, if it is one and belongs to this folder's workspace. */
    const read = (f: string): Obj | undefined => {
      let d: unknown;
      try {
        d = JSON.parse(readFileSync(join(folder.path, f), "utf8"));
      } catch {
        skipped.push(`skipped ${source(f)}: not JSON`);
        return undefined;
      }
      if (d === null || typeof d !== "object" || Array.isArray(d)) {
        skipped.push(`skipped ${source(f)}: not a JSON object`);
        return undefined;
      }
      const i = fromSlackOauth(d as Obj, 0);
      const team = i.isEnterpriseInstall ? undefined : i.teamId;
      if (i.enterpriseId !== folder.enterpriseId || team !== folder.teamId) {
        skipped.push(
          `skipped ${source(f)}: holds enterprise ${i.enterpriseId ?? "none"} / team ${team ?? "none"}, not those its folder is named for`,
        );
        return undefined;
      }
      return d as Obj;
    };
    const app = files.includes("app-latest") ? read("app-latest") : undefined;
    const users = files.filter((f) => /^user-.+-latest$/.test(f));
    for (const f of users) {
      const d = read(f);
      if (d === undefined) continue;
      const at = installedAt(folder.path, files, `user-${f.slice("user-".length, -"-latest".length)}-`, f);
      const i = fromSlackOauth(app !== undefined ? { ...app, user: d.user } : d, at);
      if (i.userId === undefined) skipped.push(`skipped ${source(f)}: no user.id`);
      else records.push({ kind: "installation", installation: i, source: source(f), clientId });
    }
    if (app === undefined) continue;
    const latest = fromSlackOauth(app, installedAt(folder.path, files, "app-", "app-latest"));
    if (users.length === 0) {
      if (latest.userId === undefined) skipped.push(`skipped ${source("app-latest")}: no user.id`);
      else records.push({ kind: "installation", installation: latest, source: source("app-latest"), clientId });
    } else if (latest.botToken) {
      const {
        userId: _u,
        userToken: _t,
        userScopes: _s,
        userRefreshToken: _r,
        userTokenExpiresAt: _e,
        ...bot
      } = latest;
      records.push({ kind: "bot", bot: bot as Bot, source: source("app-latest"), clientId });
    }
  }
  return { records, skipped, warnings: [] };
}
