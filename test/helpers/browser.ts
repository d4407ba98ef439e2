/**
 * What the browser tests share: the system Chromium (never a downloaded browser) launched with the same
 * flags everywhere, the rule for a missing browser (skip with a warning locally, fail under `CI=true`), and
 * the page audit (contrast ≥ 4.5:1 for text and controls, no sideways scroll on a 390 px phone) that runs
 * page-audit.browser.js inside a page.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { expect } from "vitest";

/** The system Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Headless, sandbox-free, and quiet: nothing the browser does by itself reaches the network. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the browser test runs under CI (where a missing browser is a failure, not a skip). */
export const IN_CI = process.env.CI === "true";

/**
 * Whether {@link CHROMIUM} exists; when it does not and this is not CI, warns that `label`'s tests are
 * skipped. Use as `describe.runIf(haveChromium || IN_CI)` and call {@link requireChromium} in `beforeAll`.
 */
export function chromiumPresent(label: string): boolean {
  const have = existsSync(CHROMIUM);
  if (!have && !IN_CI) {
    console.warn(
      `[${label}] SKIPPED: ${CHROMIUM} not found (install Chromium to run the browser test; under CI=true this fails).`,
    );
  }
  return have;
}

/** Throws (under CI, where the describe block still runs) when the browser is missing. */
export function requireChromium(have: boolean): void {
  if (!have) throw new Error(`CI=true but ${CHROMIUM} is missing: the browser test cannot run`);
}

/** Launches `executablePath` (the system Chromium by default) with {@link CHROMIUM_ARGS}. */
export async function launchChromium(executablePath: string = CHROMIUM): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/** The phone width every audited page must fit. */
export const PHONE_WIDTH = 390;
/** The contrast every text run and control must reach. */
export const MIN_CONTRAST = 4.5;

/** One contrast problem on a page. */
export interface Finding {
  kind: "text" | "control";
  what: string;
  text: string;
  fg: string;
  bg: string;
  ratio: number;
}

/** What one page measures in the browser. */
export interface Audit {
  scrollWidth: number;
  findings: Finding[];
  /** How many text runs and controls were checked (a page that checks nothing proves nothing). */
  checkedText: number;
  checkedControls: number;
}

/** The audit's source (plain browser JavaScript, see page-audit.browser.js), evaluated in each page. */
const AUDIT_SOURCE = readFileSync(new URL("./page-audit.browser.js", import.meta.url), "utf8");

/** Audits `page` as it stands once loaded (in whatever colour scheme it is in). */
export async function auditPage(page: Page): Promise<Audit> {
  await page.waitForLoadState("load");
  return (await page.evaluate(`(() => {\n${AUDIT_SOURCE}\nreturn auditPage(${MIN_CONTRAST});\n})()`)) as Audit;
}

/**
 * Asserts that every audit checked something (text runs and controls), and returns one line per problem
 * found: a page wider than {@link PHONE_WIDTH}, or a text run or control under {@link MIN_CONTRAST}.
 */
export function auditProblems(audits: Array<{ name: string } & Audit>): string[] {
  for (const a of audits) {
    expect(a.checkedText, `${a.name}: text checked`).toBeGreaterThan(2);
    expect(a.checkedControls, `${a.name}: controls checked`).toBeGreaterThan(0);
  }
  return audits.flatMap((a) => [
    ...(a.scrollWidth > PHONE_WIDTH ? [`${a.name}: scrollWidth ${a.scrollWidth} > ${PHONE_WIDTH}`] : []),
    ...a.findings.map(
      (f) =>
        `${a.name}: ${f.kind} ${f.what} "${f.text}" ${f.fg} on ${f.bg} = ${f.ratio.toFixed(2)}:1 (< ${MIN_CONTRAST})`,
    ),
  ]);
}
