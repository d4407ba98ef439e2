/**
 * What every part of the emulator shares: apps, world, state, clock and settings.
 */
import type { EmulatedApp } from "./apps.js";
import type { Deliverer } from "./deliver.js";
import type { FaultInjector } from "./faults.js";
import type { EmulatorLogger } from "./logger.js";
import type { OidcKeys } from "./oidc.js";
import type { RateLimiter } from "./rate-limit.js";
import type { EmulatorState } from "./state.js";
import type { World } from "./world.js";

export type { EmulatorLogger } from "./logger.js";

export interface EmulatorSettings {
  /** Seconds a used refresh token keeps answering (with the same new pair). */
  refreshGraceSeconds: number;
  /** Revoke the tokens issued from a code when the code is presented again (RFC 6749 §4.1.2). */
  revokeOnCodeReuse: boolean;
  /** `iss` of id_tokens and of the discovery document. */
  oidcIssuer: string;
  /** Lifetime of authorization codes in seconds (Slack: 10 minutes). */
  codeTtlSeconds: number;
  /** Lifetime of trigger ids in seconds (Slack: 3 seconds). */
  triggerTtlSeconds: number;
}

export interface EmulatorContext {
  /** Base URL, no trailing slash (set once listening). */
  url: string;
  readonly apps: EmulatedApp[];
  readonly world: World;
  readonly state: EmulatorState;
  readonly settings: EmulatorSettings;
  readonly oidc: OidcKeys;
  readonly rateLimiter: RateLimiter;
  readonly faults: FaultInjector;
  readonly deliverer: Deliverer;
  readonly logger: EmulatorLogger | undefined;
  /** Emulator clock, epoch ms (injected clock plus any `advanceClock` offset). */
  now(): number;
}

export function appByClientId(ctx: EmulatorContext, clientId: string | undefined): EmulatedApp | undefined {
  return clientId === undefined ? undefined : ctx.apps.find((a) => a.clientId === clientId);
}

export function appById(ctx: EmulatorContext, appId: string | undefined): EmulatedApp | undefined {
  return appId === undefined ? ctx.apps[0] : ctx.apps.find((a) => a.appId === appId);
}
