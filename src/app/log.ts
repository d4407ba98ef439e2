import { randomBytes } from "node:crypto";
import { type Logger, redact, redactValue } from "../redact.js";

/** A structured JSON-lines logger; every field passes through the redaction helper. */
export function jsonLogger(
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  fields: Record<string, unknown> = {},
): Logger {
  const emit =
    (level: string) =>
    (message: string, ...args: unknown[]) => {
      const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg: redact(message), ...fields };
      const rest: string[] = [];
      for (const a of args) {
        if (a !== null && typeof a === "object" && !(a instanceof Error) && !Array.isArray(a)) {
          Object.assign(entry, JSON.parse(redact(JSON.stringify(a))) as Record<string, unknown>);
        } else rest.push(redactValue(a));
      }
      if (rest.length > 0) entry.args = rest;
      write(JSON.stringify(entry));
    };
  return {
    debug: process.env.SLACK_OAUTH_DEBUG ? emit("debug") : () => {},
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
  };
}

/** A short random request id (logged and returned as `X-Request-Id`). */
export function requestId(): string {
  return randomBytes(6).toString("base64url");
}
