/**
 * The reference app's Slack endpoint (`POST /slack/events`): the `/open-modal` slash command, its modal's
 * submission, and the uninstall / revocation clean-up of {@link SlackRequestHandler}.
 */
import { type AuthorizeFn, type AuthorizeResult, NotInstalledError } from "../authorize/authorize.js";
import { SlackRequestHandler } from "../events/handler.js";
import type { MetricsOptions } from "../metrics/hooks.js";
import { installLinkFor } from "../oauth/authorize-url.js";
import { type Logger, redactValue } from "../redact.js";
import type { SlackApiClient } from "../slack-api/client.js";
import { SlackApiError, SlackNetworkError, SlackTimeoutError } from "../slack-api/errors.js";
import type { InstallationStore } from "../stores/installation-store.js";

/** The slash command the reference app answers. */
export const OPEN_MODAL_COMMAND = "/open-modal";
/** The `callback_id` of the modal it opens. */
export const MODAL_CALLBACK_ID = "modal-id";
/** The reply in a workspace where the app has no installation (never installed, or uninstalled). */
export const INSTALL_PROMPT = "Please install this app first!";

/**
 * The modal `/open-modal` opens (the seed documents' example).
 *
 * @example
 * ```ts
 * await api.viewsOpen(botToken, { triggerId, view: openModalView() });
 * ```
 * @see https://docs.slack.dev/surfaces/modals
 */
export function openModalView(): Record<string, unknown> {
  return {
    type: "modal",
    callback_id: MODAL_CALLBACK_ID,
    title: { type: "plain_text", text: "Modal title" },
    submit: { type: "plain_text", text: "Submit" },
    close: { type: "plain_text", text: "Cancel" },
    blocks: [
      {
        type: "input",
        block_id: "input-block",
        label: { type: "plain_text", text: "What do you want to say?" },
        element: { type: "plain_text_input", action_id: "input-action", multiline: true },
      },
    ],
  };
}

type J = Record<string, unknown>;
const obj = (v: unknown): J | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as J) : undefined;

/**
 * A submitted view's values, flattened to `{ "block.action": value }` (text inputs' `value`, selects'
 * `selected_option.value`). Malformed state gives `{}`.
 *
 * @example
 * ```ts
 * submittedValues(payload.view); // { "input-block.input-action": "Hello" }
 * ```
 * @see https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload
 */
export function submittedValues(view: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const values = obj(obj(obj(view)?.state)?.values) ?? {};
  for (const [block, actions] of Object.entries(values)) {
    for (const [action, v] of Object.entries(obj(actions) ?? {})) {
      const element = obj(v);
      const value = element?.value ?? obj(element?.selected_option)?.value;
      if (typeof value === "string") out[`${block}.${action}`] = value;
    }
  }
  return out;
}

/**
 * Options of {@link createReferenceSlackApp}.
 *
 * @example
 * ```ts
 * const options: ReferenceSlackAppOptions = { signingSecret, authorize, installationStore: store, api, logger };
 * ```
 */
export interface ReferenceSlackAppOptions {
  signingSecret: string;
  /**
   * The app's id (`A…`) when one deployment serves several apps: a request naming another app is refused
   * (404 `unknown_app`), and a router can send each request to its app's handler.
   */
  appId?: string | undefined;
  authorize: AuthorizeFn;
  /** The same (caching) store `authorize` reads: uninstalls and revocations are deleted from it. */
  installationStore: InstallationStore;
  api: SlackApiClient;
  logger: Logger;
  /**
   * The app's install route (`https://app.example/slack/install`, or a path resolved against the origin
   * the Slack request reached): a workspace that lacks a scope the app needs is answered with a link to it
   * that pre-selects the workspace (`?team=`).
   *
   * @default "/slack/install"
   */
  installUrl?: string | undefined;
  /**
   * The bot scopes `/open-modal` needs. Default: every configured scope (`authorize` built with
   * `requiredScopes` reports those the installation lacks as `missingBotScopes`).
   */
  commandScopes?: readonly string[] | undefined;
  /** Called with each `modal-id` submission (the reference server logs it; tests capture it). */
  onSubmission?: (
    values: Record<string, string>,
    context: { teamId?: string | undefined; userId?: string | undefined },
  ) => void | Promise<void>;
  /** Signature clock in epoch seconds (tests). */
  nowSeconds?: () => number;
  /** Reports the requests answered and the uninstalls handled. */
  metrics?: MetricsOptions | undefined;
  /**
   * Largest request body accepted.
   *
   * @default 1 MiB
   */
  maxBodyBytes?: number;
}

const ephemeral = (text: string) => ({ response_type: "ephemeral", text });

/** Characters Slack's mrkdwn gives a meaning to, escaped in text we build. */
const mrkdwnEscape = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/**
 * The answer to a command in a workspace whose installation lacks scopes the command needs: which ones,
 * and a link that reinstalls the app there (the workspace or org pre-selected).
 */
export function reinstallReply(missing: readonly string[], link: string): { response_type: string; text: string } {
  return ephemeral(
    `This app needs permissions it was not granted in this workspace (${mrkdwnEscape(missing.join(", "))}). Please ask an admin to reinstall it: <${link}|Reinstall the app>`,
  );
}

/** A sentence a Slack user understands, for a failed `views.open`. Slack's code stays in parentheses. */
function describeFailure(error: unknown): string {
  if (error instanceof SlackApiError) {
    switch (error.error) {
      case "invalid_trigger_id":
      case "expired_trigger_id":
      case "exchanged_trigger_id":
        return `Slack no longer accepts this command's trigger (${error.error}). Please run the command again.`;
      case "ratelimited":
        return "Slack is asking us to slow down (ratelimited). Please try again in a minute.";
      case "invalid_auth":
      case "not_authed":
      case "token_revoked":
      case "token_expired":
      case "account_inactive":
        return `This app's access to the workspace is no longer valid (${error.error}). Please reinstall the app.`;
      default:
        return `Slack answered with an error (${error.error}). Please try again.`;
    }
  }
  if (error instanceof SlackTimeoutError) return "Slack took too long to answer. Please try again.";
  if (error instanceof SlackNetworkError) return "Slack could not be reached. Please try again.";
  return "Something went wrong while opening the modal. Please try again.";
}

/**
 * The reference app's Slack endpoint: `/open-modal` looks up the bot token and opens a modal with
 * `views.open`; the `modal-id` submission is acknowledged and its values handled; a workspace without
 * an installation is told to install the app; Slack API and store failures become a readable ephemeral
 * reply and a log line without secrets. Uninstalls and revocations are deleted from the store.
 *
 * @example
 * ```ts
 * const store = new CachingInstallationStore(new SQLiteInstallationStore({ filename: "./data/app.db" }));
 * const slack = createReferenceSlackApp({
 *   signingSecret: process.env.SLACK_SIGNING_SECRET ?? "",
 *   authorize: createAuthorize({ installationStore: store }),
 *   installationStore: store,
 *   api: new SlackApiClient(),
 *   logger: consoleLogger,
 * });
 * // POST /slack/events → slack.handle(request)
 * ```
 */
export function createReferenceSlackApp(options: ReferenceSlackAppOptions): SlackRequestHandler {
  const { api, logger } = options;
  return new SlackRequestHandler({
    signingSecret: options.signingSecret,
    ...(options.appId !== undefined ? { appId: options.appId } : {}),
    authorize: options.authorize,
    installationStore: options.installationStore,
    logger,
    ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
    metrics: options.metrics,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
    async onCommand(req) {
      const command = typeof req.body.command === "string" ? req.body.command : "";
      if (command !== OPEN_MODAL_COMMAND) {
        return ephemeral(`Sorry, I don't know the command ${command.slice(0, 40)}.`);
      }
      let botToken: string | undefined;
      let auth: AuthorizeResult;
      try {
        auth = await req.authorize();
        botToken = auth.botToken;
      } catch (error) {
        if (error instanceof NotInstalledError) return ephemeral(INSTALL_PROMPT);
        logger.error(`open-modal: token lookup failed: ${redactValue(error)}`);
        return ephemeral("Sorry, I could not look up this workspace's installation. Please try again.");
      }
      // A user-token-only installation has no bot to open the modal with.
      if (!botToken) return ephemeral(INSTALL_PROMPT);
      // Scopes added to the app since this workspace installed it: ask for a reinstall, not a Slack error.
      const needed = options.commandScopes;
      const missing = (auth.missingBotScopes ?? []).filter((scope) => needed === undefined || needed.includes(scope));
      const reinstall = () =>
        installLinkFor(new URL(options.installUrl ?? "/slack/install", new URL(req.request.url).origin).toString(), {
          enterpriseId: auth.enterpriseId,
          teamId: auth.teamId,
          isEnterpriseInstall: auth.isEnterpriseInstall,
        });
      if (missing.length > 0) return reinstallReply(missing, reinstall());
      const triggerId = typeof req.body.trigger_id === "string" ? req.body.trigger_id : "";
      if (!triggerId) return ephemeral("Slack sent this command without a trigger_id, so no modal can be opened.");
      try {
        await api.viewsOpen(botToken, { triggerId, view: openModalView() });
        return undefined;
      } catch (error) {
        logger.error(`open-modal: views.open failed: ${redactValue(error)}`);
        // Slack says a scope is missing (the configuration did not say so): the same reinstall link.
        if (error instanceof SlackApiError && error.error === "missing_scope") {
          return reinstallReply(error.needed ? error.needed.split(",") : ["a scope Slack did not name"], reinstall());
        }
        return ephemeral(`Sorry, I could not open the modal. ${describeFailure(error)}`);
      }
    },
    async onInteraction(req) {
      const view = obj(req.body.view);
      if (req.body.type !== "view_submission" || view?.callback_id !== MODAL_CALLBACK_ID) return undefined;
      const values = submittedValues(view);
      const where = { teamId: req.context.teamId, userId: req.context.userId };
      logger.info(`${MODAL_CALLBACK_ID} submitted: ${Object.keys(values).length} field(s)`, where);
      try {
        await options.onSubmission?.(values, where);
      } catch (error) {
        logger.error(`${MODAL_CALLBACK_ID}: handling the submission failed: ${redactValue(error)}`);
        // Keeps the modal open with the reason under the input, rather than a generic Slack error.
        return {
          response_action: "errors",
          errors: { "input-block": "Sorry, your answer could not be saved. Please try again." },
        };
      }
      return undefined; // an empty 200 closes the modal
    },
  });
}
