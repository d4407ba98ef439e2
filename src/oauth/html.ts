/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/**
 * The pages' one stylesheet. Every colour pair reaches 4.5:1 (WCAG AA for text) in both schemes, buttons
 * included (a dark scheme gets a light accent with dark text on it), and nothing is wider than a 390 px
 * phone: long words, ids and dates wrap (test/app/pages.test.ts checks both in Chromium).
 */
const CSS = `
:root{color-scheme:light dark;--fg:#1d1c1d;--muted:#616061;--bg:#f8f8f8;--card:#fff;--accent:#4a154b;--on-accent:#fff;--ok:#007a5a;--bad:#c01048;--line:rgba(128,128,128,.35)}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--muted:#b4b4b4;--bg:#1a1d21;--card:#222529;--accent:#e3b6e6;--on-accent:#1a1d21;--ok:#3ecf8e;--bad:#ff7a9c}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);overflow-wrap:anywhere}
main{max-width:40rem;margin:2rem auto;padding:1.5rem;background:var(--card);border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
@media (max-width:42rem){main{margin:0;border-radius:0;min-height:100vh;padding:1.25rem 1rem}}
h1{font-size:1.5rem;margin:0 0 .75rem}p{margin:.5rem 0}.muted{color:var(--muted);font-size:.9rem}
.ok h1{color:var(--ok)}.bad h1{color:var(--bad)}code{font-size:.9em;word-break:break-all}
a.button,button{display:inline-flex;align-items:center;gap:.5rem;margin:.15rem 0;padding:.6rem 1.1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--on-accent);text-decoration:none;font-weight:600;cursor:pointer}
a.button.secondary{background:transparent;color:var(--accent)}
.slack-button{display:inline-block;line-height:0}.slack-button span{display:none}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line);overflow-wrap:anywhere}th{overflow-wrap:normal}
@media (max-width:30rem){th,td{padding:.35rem .25rem}}
`;

/**
 * Wraps page content in a small, self-contained, phone-friendly HTML document (no external assets needed);
 * `css` adds rules of the page's own after the shared stylesheet.
 */
export function layout(title: string, body: string, kind: "ok" | "bad" | "plain" = "plain", css = ""): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${CSS}${css}</style></head>
<body><main class="${kind}">${body}</main></body></html>`;
}

/** Security headers for every HTML page we render. */
export const HTML_HEADERS: Record<string, string> = {
  "Content-Type": "text/html; charset=utf-8",
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Content-Security-Policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src https://platform.slack-edge.com data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};
