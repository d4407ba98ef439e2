/**
 * The form body parser of the events endpoint (slash commands and interactivity arrive as
 * `application/x-www-form-urlencoded`). The body itself is read by the HTTP core's bounded reader
 * (`src/http/core.ts`).
 */

/** The value of a hex digit's char code, or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20; // ASCII lower case
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * One name or value of a form body: `+` is a space, `%XX` a byte of UTF-8. `undefined` when only
 * URLSearchParams' own (lenient) rules decide: a stray `%`, or bytes that are not UTF-8.
 */
function decodeFormComponent(raw: string): string | undefined {
  let pct = raw.indexOf("%");
  const s = raw.indexOf("+") === -1 ? raw : raw.replaceAll("+", " ");
  if (pct === -1) return s;
  // Escapes of ASCII bytes (Slack's `%2F`, `%3A`…) decoded here: cheaper than a call into the runtime.
  let out = "";
  let last = 0;
  while (pct !== -1) {
    const hi = hexValue(s.charCodeAt(pct + 1));
    const lo = hexValue(s.charCodeAt(pct + 2));
    if (hi < 0 || lo < 0) return undefined;
    const byte = hi * 16 + lo;
    if (byte >= 0x80) return decodeUtf8Escapes(s);
    out += s.slice(last, pct) + String.fromCharCode(byte);
    last = pct + 3;
    pct = s.indexOf("%", last);
  }
  return last === 0 ? s : out + s.slice(last);
}

/** Escapes of multi-byte UTF-8 characters: the runtime's decoder, which refuses what is not UTF-8. */
function decodeUtf8Escapes(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Parses an `application/x-www-form-urlencoded` body into an object of its fields, the first value
 * winning when a name repeats (as `URLSearchParams.get` does). Decodes exactly as `URLSearchParams`
 * does, at a fraction of its cost for the common case (fields without `%`, or with well-formed UTF-8
 * escapes); anything else is handed to `URLSearchParams` itself. Read fields with `Object.hasOwn`:
 * the object has the usual prototype, and a field named `__proto__` is an own property like any other.
 *
 * @example
 * ```ts
 * parseFormBody("command=%2Fopen-modal&text=hello+world&team_id=T1");
 * // { command: "/open-modal", text: "hello world", team_id: "T1" }
 * ```
 */
export function parseFormBody(text: string): Record<string, string> {
  // Lone surrogates become U+FFFD in URLSearchParams; decodeURIComponent keeps them.
  if (!isWellFormed(text)) return parseFormSlow(text);
  const out: Record<string, string> = {};
  const scan = new FormScanner(text);
  let pairs = 0;
  while (scan.next()) {
    const name = scan.name();
    const value = scan.value();
    if (name === undefined || value === undefined) return parseFormSlow(text);
    // Stored without looking first (a look-up of an absent name costs several times the store): a
    // repeated name shows in the count below, and then the slow path lets the first value win.
    if (name === "__proto__") defineOwn(out, name, value);
    else out[name] = value;
    pairs++;
  }
  return Object.keys(out).length === pairs ? out : parseFormSlow(text);
}

/**
 * Reads only the named fields of a form body (first value of each), without building the whole object:
 * for deciding what a request is and whom it is about before anyone needs the rest. `undefined` when the
 * body cannot be read exactly that way (a field name with `%` or `+` escapes, a malformed escape in a
 * wanted value, text that is not well-formed): then use {@link parseFormBody}.
 *
 * @example
 * ```ts
 * scanFormFields("command=%2Fhi&team_id=T1&text=a+b", ["command", "team_id"]);
 * // { command: "/hi", team_id: "T1" }
 * ```
 */
export function scanFormFields(text: string, names: readonly string[]): Record<string, string> | undefined {
  if (!isWellFormed(text)) return undefined;
  const out: Record<string, string> = {};
  const byLength = namesByLength(names);
  const scan = new FormScanner(text);
  while (scan.next()) {
    if (scan.nameIsEncoded()) return undefined;
    const candidates = byLength[scan.nameLength()];
    if (candidates === undefined) continue;
    for (const wanted of candidates) {
      if (!scan.nameIs(wanted)) continue;
      if (!Object.hasOwn(out, wanted)) {
        const value = scan.value();
        if (value === undefined) return undefined;
        out[wanted] = value;
      }
      break;
    }
  }
  return out;
}

const groupedNames = new WeakMap<readonly string[], (string[] | undefined)[]>();
/** `names` grouped by length (a field's name is compared only with the names of its length). */
function namesByLength(names: readonly string[]): (string[] | undefined)[] {
  let grouped = groupedNames.get(names);
  if (grouped === undefined) {
    grouped = [];
    for (const name of names) {
      const same = grouped[name.length] ?? [];
      same.push(name);
      grouped[name.length] = same;
    }
    groupedNames.set(names, grouped);
  }
  return grouped;
}

/** `String.prototype.isWellFormed` (in Node 20, not in the ES2023 lib this package compiles against). */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Walks the fields of a form body. Keeps the next `%` and `+` of the body at hand, so that a name or
 * value before them needs neither decoding nor a search of its own.
 */
class FormScanner {
  readonly #text: string;
  #pct: number;
  #plus: number;
  #start = 0;
  /** The current field: name `[#start, #eq)`, value `[#eq + 1, #end)` when `#eq < #end`. */
  #eq = 0;
  #end = -1;

  /** The next `=` at or after the current field (kept, like `%` and `+`: fields without `=` cost no rescans). */
  #nextEq: number;

  constructor(text: string) {
    this.#text = text;
    this.#pct = text.indexOf("%");
    this.#plus = text.indexOf("+");
    this.#nextEq = text.indexOf("=");
  }

  /** Moves to the next non-empty field; false at the end. */
  next(): boolean {
    const text = this.#text;
    const n = text.length;
    for (let start = this.#end + 1; start <= n; ) {
      let end = text.indexOf("&", start);
      if (end === -1) end = n;
      if (end > start) {
        if (this.#nextEq !== -1 && this.#nextEq < start) this.#nextEq = text.indexOf("=", start);
        const eq = this.#nextEq === -1 || this.#nextEq > end ? end : this.#nextEq;
        this.#start = start;
        this.#eq = eq;
        this.#end = end;
        return true;
      }
      start = end + 1;
    }
    this.#end = n;
    return false;
  }

  name(): string | undefined {
    return this.#component(this.#start, this.#eq);
  }

  value(): string | undefined {
    return this.#eq < this.#end ? this.#component(this.#eq + 1, this.#end) : "";
  }

  /** Length of the raw name. */
  nameLength(): number {
    return this.#eq - this.#start;
  }

  /** True when the raw name is exactly `name` (no escapes). */
  nameIs(name: string): boolean {
    return this.#eq - this.#start === name.length && this.#text.startsWith(name, this.#start);
  }

  /** True when the name holds `%` or `+` (only the full parser decodes it exactly). */
  nameIsEncoded(): boolean {
    this.#advance(this.#start);
    return (this.#pct !== -1 && this.#pct < this.#eq) || (this.#plus !== -1 && this.#plus < this.#eq);
  }

  #advance(from: number): void {
    if (this.#pct !== -1 && this.#pct < from) this.#pct = this.#text.indexOf("%", from);
    if (this.#plus !== -1 && this.#plus < from) this.#plus = this.#text.indexOf("+", from);
  }

  #component(from: number, to: number): string | undefined {
    this.#advance(from);
    const raw = this.#text.slice(from, to);
    return (this.#pct === -1 || this.#pct >= to) && (this.#plus === -1 || this.#plus >= to)
      ? raw
      : decodeFormComponent(raw);
  }
}

function parseFormSlow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  // The leading "&" keeps a leading "?" as data (the URLSearchParams constructor would drop it).
  for (const [name, value] of new URLSearchParams(`&${text}`)) setFirst(out, name, value);
  return out;
}

function setFirst(out: Record<string, string>, name: string, value: string): void {
  if (Object.hasOwn(out, name)) return;
  if (name === "__proto__") defineOwn(out, name, value);
  else out[name] = value;
}

/** An own, ordinary data property, even for a name such as `__proto__`. */
function defineOwn(out: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
}
