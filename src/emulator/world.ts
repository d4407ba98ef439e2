/**
 * The emulated Slack "world": Enterprise Grid orgs, workspaces, channels and users.
 *
 * The world is static for the life of an emulator (installations and tokens live in `state.ts`).
 */
import { readFileSync } from "node:fs";
import { CodedTypeError } from "../errors.js";
import { idNumber, idPattern } from "./ids.js";

/** An Enterprise Grid organisation. */
export interface EmulatedEnterprise {
  /** `E…` id. */
  id: string;
  name: string;
  /** Org URL subdomain: the org URL is `https://<domain>.enterprise.slack.com/`. */
  domain: string;
}

/** A channel of a workspace (used for incoming webhooks, slash commands and chat.postMessage). */
export interface EmulatedChannel {
  /** `C…` id. */
  id: string;
  /** Name without `#`. */
  name: string;
}

/** A workspace (team). */
export interface EmulatedWorkspace {
  /** `T…` id. */
  id: string;
  name: string;
  /** Subdomain: the workspace URL is `https://<domain>.slack.com/`. */
  domain: string;
  /** Set when the workspace belongs to an Enterprise Grid org. */
  enterpriseId?: string;
  channels: EmulatedChannel[];
}

/** A user of one workspace. Grid users have `W…` ids, others `U…`. */
export interface EmulatedUser {
  id: string;
  teamId: string;
  /** Handle (`alice`). */
  name: string;
  realName: string;
  email: string;
  /** Workspace admin. In a Grid workspace an admin is also an org admin and may install org-wide. */
  isAdmin: boolean;
  locale: string;
}

/** Input shape of a custom world (the `world` option or the JSON file named by `worldFile`). */
export interface WorldSpec {
  enterprises?: EmulatedEnterprise[];
  workspaces?: Array<Omit<EmulatedWorkspace, "channels"> & { channels?: EmulatedChannel[] }>;
  users?: Array<
    Pick<EmulatedUser, "id" | "teamId" | "name"> &
      Partial<Pick<EmulatedUser, "realName" | "email" | "isAdmin" | "locale">>
  >;
}

/** Read-only view of the world, with lookups. */
export class World {
  readonly enterprises: readonly EmulatedEnterprise[];
  readonly workspaces: readonly EmulatedWorkspace[];
  readonly users: readonly EmulatedUser[];

  constructor(spec: WorldSpec) {
    const enterprises = (spec.enterprises ?? []).map((e) => ({ ...e }));
    const workspaces = (spec.workspaces ?? []).map((w, i) => ({
      ...w,
      channels: w.channels?.map((c) => ({ ...c })) ?? defaultChannels(w.id, i),
    }));
    const users = (spec.users ?? []).map((u) => ({
      id: u.id,
      teamId: u.teamId,
      name: u.name,
      realName: u.realName ?? u.name,
      email: u.email ?? `${u.name}@example.com`,
      isAdmin: u.isAdmin ?? false,
      locale: u.locale ?? "en-US",
    }));
    validateWorld(enterprises, workspaces, users);
    this.enterprises = enterprises;
    this.workspaces = workspaces;
    this.users = users;
  }

  workspace(id: string | undefined): EmulatedWorkspace | undefined {
    return id === undefined ? undefined : this.workspaces.find((w) => w.id === id);
  }
  enterprise(id: string | undefined): EmulatedEnterprise | undefined {
    return id === undefined ? undefined : this.enterprises.find((e) => e.id === id);
  }
  user(id: string | undefined): EmulatedUser | undefined {
    return id === undefined ? undefined : this.users.find((u) => u.id === id);
  }
  usersOf(teamId: string): EmulatedUser[] {
    return this.users.filter((u) => u.teamId === teamId);
  }
  workspacesOf(enterpriseId: string): EmulatedWorkspace[] {
    return this.workspaces.filter((w) => w.enterpriseId === enterpriseId);
  }
  /** Users allowed to install org-wide: admins of any workspace of the org. */
  orgAdminsOf(enterpriseId: string): EmulatedUser[] {
    const teams = new Set(this.workspacesOf(enterpriseId).map((w) => w.id));
    return this.users.filter((u) => u.isAdmin && teams.has(u.teamId));
  }
  /** The enterprise a user belongs to (through their workspace), if any. */
  enterpriseOfUser(user: EmulatedUser): EmulatedEnterprise | undefined {
    return this.enterprise(this.workspace(user.teamId)?.enterpriseId);
  }
  /** `https://<domain>.slack.com/` */
  workspaceUrl(w: EmulatedWorkspace): string {
    return `https://${w.domain}.slack.com/`;
  }
  /** `https://<domain>.enterprise.slack.com/` */
  enterpriseUrl(e: EmulatedEnterprise): string {
    return `https://${e.domain}.enterprise.slack.com/`;
  }
  /** Numeric form of a team or enterprise id used inside tokens. */
  numberOf(id: string): string {
    return idNumber(id);
  }
}

function defaultChannels(teamId: string, index: number): EmulatedChannel[] {
  const n = String(index + 1).padStart(2, "0");
  const suffix = teamId.slice(-6).replace(/[^A-Z0-9]/g, "0");
  return [
    { id: `C${suffix}${n}01`.slice(0, 11), name: "general" },
    { id: `C${suffix}${n}02`.slice(0, 11), name: "random" },
  ];
}

const DOMAIN_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

function validateWorld(
  enterprises: EmulatedEnterprise[],
  workspaces: EmulatedWorkspace[],
  users: EmulatedUser[],
): void {
  const seen = new Set<string>();
  const unique = (id: string) => {
    if (seen.has(id)) throw new CodedTypeError(`emulator world: duplicate id ${JSON.stringify(id)}`);
    seen.add(id);
  };
  for (const e of enterprises) {
    if (!idPattern("E").test(e.id))
      throw new CodedTypeError(`emulator world: enterprise id must look like E0123456789`);
    if (!DOMAIN_RE.test(e.domain)) throw new CodedTypeError(`emulator world: bad domain for enterprise ${e.id}`);
    unique(e.id);
  }
  if (workspaces.length === 0) throw new CodedTypeError("emulator world: at least one workspace is required");
  for (const w of workspaces) {
    if (!idPattern("T").test(w.id)) throw new CodedTypeError(`emulator world: workspace id must look like T0123456789`);
    if (!DOMAIN_RE.test(w.domain)) throw new CodedTypeError(`emulator world: bad domain for workspace ${w.id}`);
    if (w.enterpriseId !== undefined && !enterprises.some((e) => e.id === w.enterpriseId)) {
      throw new CodedTypeError(`emulator world: workspace ${w.id} names unknown enterprise ${w.enterpriseId}`);
    }
    unique(w.id);
    for (const c of w.channels) {
      if (!idPattern("C").test(c.id)) throw new CodedTypeError(`emulator world: channel id must look like C0123456789`);
      unique(c.id);
    }
  }
  for (const u of users) {
    const w = workspaces.find((x) => x.id === u.teamId);
    if (!w) throw new CodedTypeError(`emulator world: user ${u.id} names unknown workspace ${u.teamId}`);
    // Grid users have W ids, others U ids (Slack's convention).
    if (!idPattern(w.enterpriseId ? "W" : "U").test(u.id)) {
      throw new CodedTypeError(
        `emulator world: user id ${u.id} must look like ${w.enterpriseId ? "W" : "U"}0123456789`,
      );
    }
    unique(u.id);
  }
  for (const w of workspaces) {
    if (!users.some((u) => u.teamId === w.id))
      throw new CodedTypeError(`emulator world: workspace ${w.id} has no user`);
  }
}

/**
 * The default world: three stand-alone workspaces and one Enterprise Grid org (`E0000000001`) with two
 * workspaces. Every workspace has an admin (listed first) and two members.
 */
export function defaultWorldSpec(): WorldSpec {
  const plain = [
    { id: "T0000000001", name: "Northwind Traders", domain: "northwind", people: ["alice", "bob", "carol"] },
    { id: "T0000000002", name: "Globex", domain: "globex", people: ["dave", "erin", "frank"] },
    { id: "T0000000003", name: "Initech", domain: "initech", people: ["grace", "heidi", "ivan"] },
  ];
  const grid = [
    { id: "T0000000004", name: "Acme Engineering", domain: "acme-eng", people: ["judy", "mallory", "niaj"] },
    { id: "T0000000005", name: "Acme Sales", domain: "acme-sales", people: ["olivia", "peggy", "rupert"] },
  ];
  const users: NonNullable<WorldSpec["users"]> = [];
  let n = 0;
  for (const [list, prefix] of [
    [plain, "U"],
    [grid, "W"],
  ] as const) {
    for (const w of list) {
      w.people.forEach((name, i) => {
        n++;
        users.push({
          id: `${prefix}${String(n).padStart(10, "0")}`,
          teamId: w.id,
          name,
          realName: name[0]!.toUpperCase() + name.slice(1) + (i === 0 ? " Admin" : " Example"),
          email: `${name}@${w.domain}.example.com`,
          isAdmin: i === 0,
        });
      });
    }
  }
  return {
    enterprises: [{ id: "E0000000001", name: "Acme Corp", domain: "acme-org" }],
    workspaces: [
      ...plain.map(({ id, name, domain }) => ({ id, name, domain })),
      ...grid.map(({ id, name, domain }) => ({ id, name, domain, enterpriseId: "E0000000001" })),
    ],
    users,
  };
}

/** Reads a {@link WorldSpec} from a JSON file. */
export function readWorldFile(path: string): WorldSpec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CodedTypeError(`emulator: cannot read world file ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CodedTypeError(`emulator: world file ${path} must hold a JSON object {enterprises, workspaces, users}`);
  }
  return parsed as WorldSpec;
}
