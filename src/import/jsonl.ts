/**
 * Reads `slack-oauth-kit export` output: one JSON object a line, an `Installation`, or
 * `{"kind":"bot", ...Bot}` for a workspace that has a bot and no installation. A line exported with
 * `--app` also carries its app's `clientId` (and `app`, its name): the record's app on import.
 */
import { readFileSync } from "node:fs";
import type { Bot, Installation } from "../model/installation.js";
import { type ImportRecord, isClientId, type ReadResult, str } from "./common.js";

/** The keys of a line that name its app rather than hold the installation. */
const APP_KEYS = new Set(["kind", "clientId", "app"]);

const TOKEN_FIELDS = ["botToken", "botRefreshToken", "userToken", "userRefreshToken"] as const;

function record(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined && !APP_KEYS.has(k)) out[k] = v;
  out.botScopes = Array.isArray(o.botScopes) ? o.botScopes.map(String) : [];
  out.isEnterpriseInstall = o.isEnterpriseInstall === true;
  out.customValues =
    o.customValues !== null && typeof o.customValues === "object" && !Array.isArray(o.customValues)
      ? o.customValues
      : {};
  out.installedAt = typeof o.installedAt === "number" ? o.installedAt : 0;
  return out;
}

/** Parses JSON lines; a line that is not a JSON object is skipped with its line number. */
export function readJsonl(path: string): ReadResult {
  const text = path === "-" ? readFileSync(0, "utf8") : readFileSync(path, "utf8");
  const records: ImportRecord[] = [];
  const skipped: string[] = [];
  text.split("\n").forEach((line, n) => {
    if (line.trim() === "") return;
    const source = `line ${n + 1}`;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      skipped.push(`skipped ${source}: not JSON`);
      return;
    }
    if (o === null || typeof o !== "object" || Array.isArray(o)) {
      skipped.push(`skipped ${source}: not a JSON object`);
      return;
    }
    const obj = o as Record<string, unknown>;
    if (TOKEN_FIELDS.some((f) => obj[f] === "****")) {
      skipped.push(`skipped ${source}: its tokens are masked (an export made with --no-tokens)`);
      return;
    }
    const clientId = obj.clientId === undefined || obj.clientId === null ? undefined : obj.clientId;
    if (clientId !== undefined && !isClientId(clientId)) {
      skipped.push(`skipped ${source}: clientId is not a client id`);
      return;
    }
    const r = record(obj);
    if (obj.kind === "bot") {
      if (str(obj.botToken) === undefined) {
        skipped.push(`skipped ${source}: bot without botToken`);
        return;
      }
      records.push({ kind: "bot", bot: r as unknown as Bot, source, clientId });
      return;
    }
    if (str(obj.userId) === undefined) {
      skipped.push(`skipped ${source}: installation without userId`);
      return;
    }
    r.userScopes = Array.isArray(obj.userScopes) ? obj.userScopes.map(String) : [];
    records.push({ kind: "installation", installation: r as unknown as Installation, source, clientId });
  });
  return { records, skipped, warnings: [] };
}
