import { describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import type { Installation } from "../../src/model/installation.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

function inst(teamId: string, userId: string, o: Partial<Installation> = {}): Installation {
  return {
    teamId,
    userId,
    botToken: `xoxb-test-${teamId}-${Math.random()}`,
    botId: "B1",
    botUserId: "UBOT",
    botScopes: ["chat:write"],
    userToken: `xoxp-test-${userId}-${Math.random()}`,
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    installedAt: 1_700_000_000,
    customValues: {},
    ...o,
  };
}

/** Counts the wrapped store's lookups. */
class CountingStore extends MemoryInstallationStore {
  calls = 0;
  override async findBot(q: Parameters<MemoryInstallationStore["findBot"]>[0]) {
    this.calls++;
    return super.findBot(q);
  }
  override async findInstallation(q: Parameters<MemoryInstallationStore["findInstallation"]>[0]) {
    this.calls++;
    return super.findInstallation(q);
  }
}

describe("CachingInstallationStore.findForAuthorize (authorize's hot path)", () => {
  it("a subclass overriding findForAuthorize is asked on every authorize, cache hits included", async () => {
    let asked = 0;
    class Audited extends CachingInstallationStore {
      override findForAuthorize(...args: Parameters<CachingInstallationStore["findForAuthorize"]>) {
        asked++;
        return super.findForAuthorize(...args);
      }
    }
    const store = new Audited(new MemoryInstallationStore());
    await store.save(inst("T1", "U1"));
    const authorize = createAuthorize({ installationStore: store });
    for (let i = 0; i < 3; i++) await authorize({ teamId: "T1", userId: "U1", isEnterpriseInstall: false });
    expect(asked).toBe(3);
  });

  it("serves repeated lookups from one entry, frozen, and authorize still hands out copies", async () => {
    const inner = new CountingStore();
    const store = new CachingInstallationStore(inner);
    const a = inst("T1", "U1");
    await store.save(a);
    const first = await store.findForAuthorize({ teamId: "T1", isEnterpriseInstall: false }, "U1");
    const callsAfterFirst = inner.calls;
    const second = await store.findForAuthorize({ teamId: "T1", isEnterpriseInstall: false }, "U1");
    expect(inner.calls).toBe(callsAfterFirst);
    expect(second).toBe(first);
    expect(Object.isFrozen(first.bot)).toBe(true);
    expect(Object.isFrozen(first.bot?.botScopes)).toBe(true);
    expect(first.own?.userToken).toBe(a.userToken);

    const authorize = createAuthorize({ installationStore: store });
    const r = await authorize({ teamId: "T1", userId: "U1", isEnterpriseInstall: false });
    expect(r.botToken).toBe(a.botToken);
    expect(r.userToken).toBe(a.userToken);
    r.botScopes.push("mutated");
    const again = await authorize({ teamId: "T1", userId: "U1", isEnterpriseInstall: false });
    expect(again.botScopes).toEqual(["chat:write"]);
  });

  it("drops the entry on save and delete, and never gives one user's token to another", async () => {
    const store = new CachingInstallationStore(new MemoryInstallationStore());
    const authorize = createAuthorize({ installationStore: store });
    await store.save(inst("T1", "U1"));
    const u2 = await authorize({ teamId: "T1", userId: "U2", isEnterpriseInstall: false });
    expect(u2.userToken).toBeUndefined();
    const mine = inst("T1", "U2");
    await store.save(mine);
    expect((await authorize({ teamId: "T1", userId: "U2", isEnterpriseInstall: false })).userToken).toBe(
      mine.userToken,
    );
    await store.deleteInstallation({ teamId: "T1", userId: "U2" });
    expect((await authorize({ teamId: "T1", userId: "U2", isEnterpriseInstall: false })).userToken).toBeUndefined();
    await store.deleteAll({ teamId: "T1" });
    await expect(authorize({ teamId: "T1", userId: "U1", isEnterpriseInstall: false })).rejects.toMatchObject({
      code: "SLACK_OAUTH_NOT_INSTALLED",
    });
  });

  it("keeps an entry without the user's own install only missTtlMs, and caches nothing for a workspace miss", async () => {
    let now = 1_000_000;
    const inner = new CountingStore();
    const store = new CachingInstallationStore(inner, { nowMs: () => now, missTtlMs: 5_000, ttlMs: 60_000 });
    const q = { teamId: "T9", isEnterpriseInstall: false } as const;
    await store.findForAuthorize(q, "U1");
    await store.findForAuthorize(q, "U1");
    expect(inner.calls).toBe(4); // a workspace that is not installed is asked again every time
    await inner.save(inst("T9", "U0")); // written behind the cache's back (another instance)
    await store.findForAuthorize(q, "U1");
    const calls = inner.calls;
    await store.findForAuthorize(q, "U1");
    expect(inner.calls).toBe(calls);
    now += 5_001;
    await store.findForAuthorize(q, "U1");
    expect(inner.calls).toBe(calls + 2);
  });

  it("a lookup racing with a write does not fill the cache with what it read before the write", async () => {
    const inner = new MemoryInstallationStore();
    const store = new CachingInstallationStore(inner);
    const old = inst("T5", "U5");
    await store.save(old);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowFind = inner.findBot.bind(inner);
    inner.findBot = async (q) => {
      const bot = await slowFind(q);
      await gate;
      return bot;
    };
    const pending = store.findForAuthorize({ teamId: "T5", isEnterpriseInstall: false }, "U5");
    const fresh = inst("T5", "U5");
    await store.save(fresh);
    release();
    expect((await pending).bot?.botToken).toBe(old.botToken);
    inner.findBot = slowFind;
    const after = await store.findForAuthorize({ teamId: "T5", isEnterpriseInstall: false }, "U5");
    expect(after.bot?.botToken).toBe(fresh.botToken);
  });
});
