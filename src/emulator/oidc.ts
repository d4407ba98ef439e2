/**
 * Sign in with Slack (OpenID Connect): signing keys and JWKS, id_token signing, discovery document and
 * the claims of id_tokens and `openid.connect.userInfo`.
 */
import { createHash, createSign, generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { EmulatedApp } from "./apps.js";
import { base64url, randomString } from "./ids.js";
import type { EmulatedUser, EmulatedWorkspace, World } from "./world.js";

const generateKeyPairAsync = promisify(generateKeyPair);

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A JSON Web Key as published at `/openid/connect/keys`. */
export interface PublicJwk {
  kty: string;
  n: string;
  e: string;
  kid: string;
  alg: "RS256";
  use: "sig";
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
  return { kid: `emu-${randomString(16)}`, privateKey, publicKey };
}

/**
 * The OIDC signing keys. The newest key signs; older keys stay published in the JWKS until
 * {@link OidcKeys.dropOld} (so tokens signed before a rotation still verify, as with a real key rollover).
 */
export class OidcKeys {
  #keys: SigningKey[];

  private constructor(first: SigningKey) {
    this.#keys = [first];
  }

  static async create(): Promise<OidcKeys> {
    return new OidcKeys(await newKey());
  }

  /** kid of the key that signs new id_tokens. */
  get currentKid(): string {
    return this.#keys[this.#keys.length - 1]!.kid;
  }

  /** Adds a new signing key; returns its kid. Old keys stay published. */
  async rotate(): Promise<string> {
    const key = await newKey();
    this.#keys.push(key);
    return key.kid;
  }

  /** Stops publishing every key but the current one. Returns the kids dropped. */
  dropOld(): string[] {
    const dropped = this.#keys.slice(0, -1).map((k) => k.kid);
    this.#keys = this.#keys.slice(-1);
    return dropped;
  }

  /** `{ keys: [...] }` for `/openid/connect/keys`. */
  jwks(): { keys: PublicJwk[] } {
    return {
      keys: this.#keys.map((k) => {
        const jwk = k.publicKey.export({ format: "jwk" }) as { kty: string; n: string; e: string };
        return { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: k.kid, alg: "RS256", use: "sig" };
      }),
    };
  }

  /** Signs claims as an RS256 JWT with the current key. */
  sign(claims: Record<string, unknown>): string {
    const key = this.#keys[this.#keys.length - 1]!;
    const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: key.kid }));
    const payload = base64url(JSON.stringify(claims));
    const input = `${header}.${payload}`;
    const signature = createSign("RSA-SHA256").update(input).sign(key.privateKey);
    return `${input}.${base64url(signature)}`;
  }
}

/** The discovery document: Slack's, with endpoints on the emulator and the configured issuer. */
export function discoveryDocument(baseUrl: string, issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${baseUrl}/openid/connect/authorize`,
    token_endpoint: `${baseUrl}/api/openid.connect.token`,
    userinfo_endpoint: `${baseUrl}/api/openid.connect.userInfo`,
    jwks_uri: `${baseUrl}/openid/connect/keys`,
    scopes_supported: ["openid", "profile", "email"],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"],
    claims_supported: ["sub", "auth_time", "iss"],
    token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
  };
}

/** at_hash: base64url of the left half of SHA-256 of the access token (OIDC Core §3.1.3.6). */
export function atHash(accessToken: string): string {
  return base64url(createHash("sha256").update(accessToken).digest().subarray(0, 16));
}

/**
 * Where the emulator serves an avatar: on itself, never on the internet, so that sandbox pages showing the
 * signed-in user's picture load nothing from outside the machine (Slack's own URLs are on slack-edge.com).
 */
export function avatarUrl(baseUrl: string, id: string, size: number): string {
  return `${baseUrl}/avatars/${encodeURIComponent(id)}_${size}.svg`;
}

function imageClaims(baseUrl: string, user: EmulatedUser, workspace: EmulatedWorkspace): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const size of [24, 32, 48, 72, 192, 512]) {
    out[`https://slack.com/user_image_${size}`] = avatarUrl(baseUrl, user.id, size);
  }
  for (const size of [34, 44, 68, 88, 102, 132, 230]) {
    out[`https://slack.com/team_image_${size}`] = avatarUrl(baseUrl, workspace.id, size);
  }
  out["https://slack.com/team_image_default"] = true;
  return out;
}

function profileClaims(user: EmulatedUser): Record<string, unknown> {
  const [given, ...rest] = user.realName.split(" ");
  return { name: user.realName, given_name: given ?? user.realName, family_name: rest.join(" "), locale: user.locale };
}

/** Claims of an id_token for `user`, per the scopes granted. */
export function idTokenClaims(input: {
  /** The emulator's base URL (avatars are served there). */
  baseUrl: string;
  world: World;
  app: EmulatedApp;
  issuer: string;
  user: EmulatedUser;
  scopes: string[];
  nonce: string | null;
  accessToken: string;
  nowMs: number;
}): Record<string, unknown> {
  const { world, user, scopes } = input;
  const workspace = world.workspace(user.teamId)!;
  const iat = Math.floor(input.nowMs / 1000);
  const claims: Record<string, unknown> = {
    iss: input.issuer,
    sub: user.id,
    aud: input.app.clientId,
    exp: iat + 300,
    iat,
    auth_time: iat,
    ...(input.nonce !== null ? { nonce: input.nonce } : {}),
    at_hash: atHash(input.accessToken),
    "https://slack.com/team_id": workspace.id,
    "https://slack.com/user_id": user.id,
  };
  if (workspace.enterpriseId) claims["https://slack.com/enterprise_id"] = workspace.enterpriseId;
  if (scopes.includes("email")) {
    claims.email = user.email;
    claims.email_verified = true;
    claims.date_email_verified = iat - 86_400 * 30;
  }
  if (scopes.includes("profile")) {
    Object.assign(claims, profileClaims(user), imageClaims(input.baseUrl, user, workspace));
    claims["https://slack.com/team_name"] = workspace.name;
    claims["https://slack.com/team_domain"] = workspace.domain;
  }
  return claims;
}

/** Body of `openid.connect.userInfo` for `user`, per the scopes granted. */
export function userInfo(baseUrl: string, world: World, user: EmulatedUser, scopes: string[]): Record<string, unknown> {
  const workspace = world.workspace(user.teamId)!;
  const out: Record<string, unknown> = {
    ok: true,
    sub: user.id,
    "https://slack.com/user_id": user.id,
    "https://slack.com/team_id": workspace.id,
  };
  if (scopes.includes("email")) {
    out.email = user.email;
    out.email_verified = true;
    out.date_email_verified = 1_600_000_000;
  }
  if (scopes.includes("profile")) {
    Object.assign(out, profileClaims(user));
    out.picture = avatarUrl(baseUrl, user.id, 512);
    out["https://slack.com/team_name"] = workspace.name;
    out["https://slack.com/team_domain"] = workspace.domain;
    Object.assign(out, imageClaims(baseUrl, user, workspace));
  }
  return out;
}

const AVATAR_PATH_RE = /^\/avatars\/([A-Z][A-Z0-9]{1,20})_(\d{2,3})\.svg$/;
const AVATAR_COLOURS = ["#4a154b", "#1264a3", "#007a5a", "#9e3a00", "#6b2d8a", "#0b4f6c"];

/**
 * The SVG avatar at `/avatars/<id>_<size>.svg` for a user or workspace of the world: initials on a colour
 * picked from the id (dark enough for white text at 4.5:1). `undefined` for any other path or id.
 */
export function avatarSvg(world: World, path: string): string | undefined {
  const m = AVATAR_PATH_RE.exec(path);
  if (!m) return undefined;
  const id = m[1]!;
  const size = Number(m[2]);
  const name = world.user(id)?.realName ?? world.workspace(id)?.name;
  if (name === undefined || size < 16 || size > 1024) return undefined;
  const initials =
    name
      .split(/\s+/)
      .filter((w) => /^[A-Za-z0-9]/.test(w))
      .slice(0, 2)
      .map((w) => w[0]!.toUpperCase())
      .join("") || "?";
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  const colour = AVATAR_COLOURS[hash % AVATAR_COLOURS.length]!;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">\
<rect width="100" height="100" fill="${colour}"/>\
<text x="50" y="50" dy=".35em" text-anchor="middle" font-family="system-ui,sans-serif" font-size="40" \
font-weight="700" fill="#fff">${initials}</text></svg>`;
}
