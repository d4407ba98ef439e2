// Shared check for every SQL backend: with EncryptedInstallationStore in front, no table row holds a
// token, by value or by shape. (Random ciphertext spells the bare letters "xox" now and then, so the
// check looks for a token's shape, `xoxb-`…, and for the actual values.)
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { EncryptedInstallationStore } from "../../src/stores/encryption.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";

/** Saves installations (workspace, org-wide, a bot update and a rotation) through encryption, then dumps. */
export async function expectNoTokenInDump(
  inner: InstallationStore,
  dumpRows: () => Promise<Record<string, unknown>[]>,
): Promise<void> {
  const store = new EncryptedInstallationStore(inner, { keys: [{ id: "k1", key: randomBytes(32) }] });
  const tokens: string[] = [];
  const t = (prefix: string) => {
    const v = `${prefix}${randomUUID()}`;
    tokens.push(v);
    return v;
  };
  const hex = () => randomBytes(5).toString("hex").toUpperCase();
  const base = (o: Partial<Installation>): Installation => ({
    teamId: `T${hex()}`,
    userId: `U${hex()}`,
    botToken: t("xoxb-test-"),
    botRefreshToken: t("xoxe-1-test-"),
    botTokenExpiresAt: 2_000_000_000,
    botId: `B${hex()}`,
    botUserId: `U${hex()}`,
    botScopes: ["chat:write"],
    userToken: t("xoxp-test-"),
    userRefreshToken: t("xoxe-1-test-"),
    userTokenExpiresAt: 2_000_000_000,
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.5,
    customValues: {},
    ...o,
  });
  const a = base({ enterpriseId: `E${hex()}` });
  const { teamId: _workspace, ...org } = base({ enterpriseId: `E${hex()}`, isEnterpriseInstall: true });
  await store.save(a);
  await store.save(org);
  expect(
    await store.updateTokens?.(
      { enterpriseId: a.enterpriseId, teamId: a.teamId },
      { botToken: t("xoxb-test-"), botRefreshToken: t("xoxe-1-test-") },
      { botRefreshToken: a.botRefreshToken as string },
    ),
  ).toBe(true);
  // The store still reads everything back.
  expect((await store.findBot({ enterpriseId: org.enterpriseId, isEnterpriseInstall: true }))?.botToken).toBe(
    org.botToken,
  );
  const rows = await dumpRows();
  expect(rows.length).toBeGreaterThan(2);
  const text = JSON.stringify(rows);
  expect(text).not.toMatch(/xox[abpe]-/);
  for (const token of tokens) expect(text).not.toContain(token);
  expect(text).toMatch(/enc:v1:k1:/);
}
