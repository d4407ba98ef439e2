/** The shape of what the configuration checks report: the server, the apps file reader and `doctor` share it. */

/**
 * One thing the configuration checks (`inspectConfig` in `config.ts`, the apps file reader) found: a
 * `problem` stops the server (exit 2), a `warning` is printed at start. `code` is stable (the `doctor`
 * command keys on it); `message` never holds a secret.
 *
 * @example
 * ```ts
 * const f: ConfigFinding = { variable: "SLACK_SIGNING_SECRET", level: "problem", code: "secret-missing", message: "…" };
 * ```
 */
export interface ConfigFinding {
  /** The environment variable concerned. */
  variable: string;
  level: "problem" | "warning";
  /**
   * `port`, `scope-syntax`, `url`, `ignored`, `client-id-shape`, `secret-missing`, `secret-shape`,
   * `secret-is-token`, `token-kind`, `mode-conflict`, `sandbox-refused`, `metrics-port`, `metrics-token`, `metrics-app`, `limit`,
   * `console-admins`, `refresh-interval`, `redis-key-prefix`, `database-max-connections`, and the apps file's `apps-file`, `app-field`, `app-duplicate`, `apps-file-mode`.
   */
  code: string;
  message: string;
}
