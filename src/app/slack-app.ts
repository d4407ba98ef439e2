import { type AuthorizeFn, NotInstalledError } from "../authorize/authorize.js";
import { SlackRequestHandler } from "../events/handler.js";
import { type Logger, redact } from "../redact.js";
import type { SlackApiClient } from "../slack-api/client.js";
import { SlackApiError, SlackNetworkError } from "../slack-api/errors.js";
import type { InstallationStore } from "../stores/installation-store.js";

/** The modal `/open-modal` opens (the seed documents' example). */
export function openModalView(): Record<string, unknown> {
  return {
    type: "modal",
    callback_id: "modal-id",
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

/** A submitted `modal-id` view's values, flattened to `{ "block.action": value }`. */
export function submittedValues(view: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const values = ((view.state as Record<string, unknown> | undefined)?.values ?? {}) as Record<
    string,
    Record<string, Record<string, unknown>>
  >;
  for (const [block, actions] of Object.entries(values)) {
    for (const [action, v] of Object.entries(actions ?? {})) {
      const value = v?.value ?? (v?.selected_option as { value?: unknown } | undefined)?.value;
      if (typeof value === "string") out[`${block}.${action}`] = value;
    }
  }
  return out;
}

export interface ReferenceSlackAppOptions {
  signingSecret: string;
  authorize: AuthorizeFn;
  installationStore: InstallationStore;
  api: SlackApiClient;
  logger: Logger;
  /** Called with each `modal-id` submission (the reference server logs it; tests capture it). */
  onSubmission?: (
    values: Record<string, string>,
    context: { teamId?: string | undefined; userId?: string | undefined },
  ) => void;
}

/**
 * The reference app's Slack endpoint: `/open-modal` looks up the bot token and opens a modal with
 * `views.open`; the `modal-id` submission is acknowledged and its values handled; a workspace without
 * an installation is told to install the app; Slack API errors become a readable reply.
 */
export function createReferenceSlackApp(options: ReferenceSlackAppOptions): SlackRequestHandler {
  const { api, logger } = options;
  return new SlackRequestHandler({
    signingSecret: options.signingSecret,
    authorize: options.authorize,
    installationStore: options.installationStore,
    logger,
    async onCommand(req) {
      const command = String(req.body.command ?? "");
      if (command !== "/open-modal") {
        return { response_type: "ephemeral", text: `Sorry, I don't know the command ${command.slice(0, 40)}.` };
      }
      let botToken: string | undefined;
      try {
        botToken = (await req.authorize()).botToken;
      } catch (error) {
        if (error instanceof NotInstalledError)
          return { response_type: "ephemeral", text: "Please install this app first!" };
        throw error;
      }
      if (!botToken) return { response_type: "ephemeral", text: "Please install this app first!" };
      const triggerId = typeof req.body.trigger_id === "string" ? req.body.trigger_id : "";
      try {
        await api.viewsOpen(botToken, { triggerId, view: openModalView() });
        return undefined;
      } catch (error) {
        const reason =
          error instanceof SlackApiError
            ? error.error
            : error instanceof SlackNetworkError
              ? "Slack could not be reached"
              : "unexpected error";
        logger.error(
          `open-modal: views.open failed: ${redact(error instanceof Error ? error.message : String(error))}`,
        );
        return { response_type: "ephemeral", text: `Sorry, I could not open the modal (${reason}). Please try again.` };
      }
    },
    async onInteraction(req) {
      const view = req.body.view as Record<string, unknown> | undefined;
      if (req.body.type === "view_submission" && view?.callback_id === "modal-id") {
        const values = submittedValues(view);
        logger.info("modal-id submitted", {
          teamId: req.context.teamId,
          userId: req.context.userId,
          fields: Object.keys(values).length,
        });
        options.onSubmission?.(values, { teamId: req.context.teamId, userId: req.context.userId });
        return undefined; // an empty 200 closes the modal
      }
      return undefined;
    },
  });
}
