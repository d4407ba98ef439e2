/**
 * Runs inside a page (evaluated by auditPage in test/helpers/browser.ts; plain JavaScript because the project's TypeScript has
 * no DOM types). WCAG 2 contrast of every visible text run against its composited background, and of every
 * button's and field's edge (its fill, or its border when it has none) against its surroundings; and the
 * document's scroll width.
 *
 * @param {number} min the contrast every text run and control must reach
 * @returns {{ scrollWidth: number, findings: Array<{ kind: string, what: string, text: string, fg: string, bg: string, ratio: number }>, checkedText: number, checkedControls: number }}
 */
// biome-ignore lint/correctness/noUnusedVariables: called by the code that evaluates this file.
function auditPage(min) {
  const parse = (css) => {
    const m = /^rgba?\(([^)]+)\)$/.exec(css.trim());
    if (!m) return undefined;
    const p = m[1]
      .split(/[\s,/]+/)
      .filter(Boolean)
      .map((v) => (v.endsWith("%") ? Number.parseFloat(v) / 100 : Number.parseFloat(v)));
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1];
  };
  const channel = (v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const show = (c) => `rgb(${c.slice(0, 3).map(Math.round).join(",")})`;
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  // The canvas behind everything: Chromium's dark canvas only when the page opts into dark.
  const canvas =
    dark && /dark/.test(getComputedStyle(document.documentElement).colorScheme) ? [18, 18, 18, 1] : [255, 255, 255, 1];
  const backgroundOf = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = canvas;
    for (const e of chain) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) bg = over(c, bg);
    }
    return bg;
  };
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility === "visible" && s.display !== "none" && Number(s.opacity) > 0 && r.width > 0 && r.height > 0;
  };
  const describe = (el) =>
    `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${typeof el.className === "string" && el.className.trim() ? `.${el.className.trim().replace(/\s+/g, ".")}` : ""}`;
  const findings = [];
  let checkedText = 0;
  let checkedControls = 0;
  for (const el of Array.from(document.body.querySelectorAll("*"))) {
    if (!visible(el) || el.closest("svg")) continue;
    const ownText = Array.from(el.childNodes)
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent ?? "")
      .join("")
      .trim();
    const isField = el instanceof HTMLSelectElement || el instanceof HTMLInputElement;
    if (ownText || isField) {
      const bg = backgroundOf(el);
      const fg = over(parse(getComputedStyle(el).color) ?? [0, 0, 0, 1], bg);
      const ratio = contrast(fg, bg);
      checkedText++;
      if (ratio < min) {
        findings.push({
          kind: "text",
          what: describe(el),
          text: (ownText || el.value).slice(0, 60),
          fg: show(fg),
          bg: show(bg),
          ratio,
        });
      }
    }
    if (el.matches("a.button, button, select")) {
      const s = getComputedStyle(el);
      const around = backgroundOf(el.parentElement);
      const fill = parse(s.backgroundColor);
      const border = parse(s.borderTopColor);
      // The edge that shows where the control is: its fill, or its border, whichever stands out more.
      const edges = [];
      if (fill && fill[3] > 0) edges.push(over(fill, around));
      if (border && border[3] > 0 && Number.parseFloat(s.borderTopWidth) > 0) edges.push(over(border, around));
      const ratios = edges.map((e) => contrast(e, around));
      const best = ratios.length ? Math.max(...ratios) : 1;
      const edge = edges[ratios.indexOf(best)];
      checkedControls++;
      const ratio = best;
      if (ratio < min) {
        findings.push({
          kind: "control",
          what: describe(el),
          text: (el.textContent ?? "").trim().slice(0, 60),
          fg: edge ? show(edge) : "none",
          bg: show(around),
          ratio,
        });
      }
    }
  }
  return { scrollWidth: document.documentElement.scrollWidth, findings, checkedText, checkedControls };
}
