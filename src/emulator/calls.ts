/**
 * The shape of one emulated Web API call and of its result, shared by the dispatcher (`api.ts`) and the
 * method handlers (`oauth.ts` and the others).
 */
import type { TokenRecord } from "./state.js";

/** One Web API call, parsed. */
export interface ApiCall {
  method: string;
  /** Query and body arguments (form values are strings; JSON values keep their types). */
  args: Record<string, unknown>;
  /** From `Authorization: Bearer`, or the legacy `token` argument (form bodies and query only). */
  token: string | undefined;
  basic: { id: string; secret: string } | undefined;
  /** Set for methods that need a token, once it has been checked. */
  tokenRecord?: TokenRecord;
}

/** What a Web API method answers: its JSON body, and the workspace it concerned. */
export interface ApiResult {
  body: Record<string, unknown>;
  /** Workspace (or enterprise) the call concerned, for the call log and counters. */
  teamId: string | null;
}
