/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it refuses what
 * Prometheus would refuse (bad names, bad escapes, a sample before or outside its family's `# TYPE`,
 * a family split in two, a repeated series, histogram buckets that are not cumulative or lack `+Inf`,
 * `_count` different from the `+Inf` bucket, negative counters) instead of picking numbers out by regex.
 *
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, … for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

export class PromParseError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

/** The float syntax Prometheus accepts (Go's ParseFloat, plus the Inf/NaN spellings). */
function parseValue(text: string, line: number): number {
  if (/^[+]?Inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-Inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^NaN$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new PromParseError(line, `bad value "${text}"`);
  return Number(text);
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new PromParseError(line, `bad escape in HELP: \\${c}`);
  });
}

/** The family a sample name belongs to, given the family's type. */
function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct && direct.type !== "histogram" && direct.type !== "summary") return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sampleName.endsWith(suffix)) continue;
    const f = families.get(sampleName.slice(0, -suffix.length));
    if (f && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return f;
  }
  if (direct?.type === "summary") return direct; // quantile samples carry the family's own name
  return undefined;
}

/** Reads `name{labels} value [timestamp]` at `line`. */
function parseSample(text: string, line: number): Sample {
  let i = 0;
  while (i < text.length && /[a-zA-Z0-9_:]/.test(text[i] as string)) i++;
  const name = text.slice(0, i);
  if (!METRIC_NAME.test(name)) throw new PromParseError(line, `bad metric name "${name}"`);
  const labels: Record<string, string> = {};
  if (text[i] === "{") {
    i++;
    for (;;) {
      if (text[i] === "}") {
        i++;
        break;
      }
      const start = i;
      while (i < text.length && /[a-zA-Z0-9_]/.test(text[i] as string)) i++;
      const label = text.slice(start, i);
      if (!LABEL_NAME.test(label) || label.startsWith("__"))
        throw new PromParseError(line, `bad label name "${label}"`);
      if (Object.hasOwn(labels, label)) throw new PromParseError(line, `label "${label}" repeated`);
      if (text[i] !== "=" || text[i + 1] !== '"') throw new PromParseError(line, `expected ="…" after ${label}`);
      i += 2;
      let value = "";
      for (;;) {
        const c = text[i];
        if (c === undefined) throw new PromParseError(line, "unterminated label value");
        if (c === '"') {
          i++;
          break;
        }
        if (c === "\\") {
          const e = text[i + 1];
          if (e === "\\") value += "\\";
          else if (e === '"') value += '"';
          else if (e === "n") value += "\n";
          else throw new PromParseError(line, `bad escape \\${e ?? ""} in label value`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      labels[label] = value;
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] !== "}") throw new PromParseError(line, `expected , or } after label ${label}`);
    }
  }
  const rest = text.slice(i);
  const m = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
  if (!m) throw new PromParseError(line, `expected " value [timestamp]" after the series, got "${rest}"`);
  const sample: Sample = { name, labels, value: parseValue(m[1] as string, line) };
  if (m[2] !== undefined) sample.timestamp = Number(m[2]);
  return sample;
}

function seriesKey(s: Sample): string {
  return `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(",")}}`;
}

/** Checks what the format requires of each family once all its samples are read. */
function checkFamily(f: Family): void {
  if (f.type === "counter") {
    for (const s of f.samples) {
      if (!(s.value >= 0)) throw new Error(`${f.name}: counter value ${s.value} is not a non-negative number`);
    }
  }
  if (f.type !== "histogram") return;
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name} in a histogram`);
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.length === 0 || sorted.at(-1)?.[0] !== Number.POSITIVE_INFINITY) {
      throw new Error(`${f.name} ${key}: no le="+Inf" bucket`);
    }
    for (let k = 1; k < sorted.length; k++) {
      if ((sorted[k] as [number, number])[1] < (sorted[k - 1] as [number, number])[1]) {
        throw new Error(`${f.name} ${key}: buckets are not cumulative`);
      }
    }
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name} ${key}: _count or _sum missing`);
    if (g.count !== sorted.at(-1)?.[1]) throw new Error(`${f.name} ${key}: _count differs from the +Inf bucket`);
  }
}

/** Parses a whole exposition; throws on anything Prometheus would refuse. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: Family | undefined;
  const lines = text.split("\n");
  if (text.length > 0 && !text.endsWith("\n")) throw new PromParseError(lines.length, "the text must end with \\n");
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (!m) return; // a plain comment
      const [, keyword, name, rest = ""] = m as unknown as [string, "HELP" | "TYPE", string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new PromParseError(line, `bad metric name "${name}"`);
      if (closed.has(name)) throw new PromParseError(line, `family ${name} appears twice`);
      let f = families.get(name);
      if (f === undefined) {
        if (current && current.name !== name) closed.add(current.name);
        f = { name, type: "untyped", samples: [] };
        families.set(name, f);
      } else if (f.samples.length > 0) throw new PromParseError(line, `${keyword} for ${name} after its samples`);
      current = f;
      if (keyword === "TYPE") {
        if ((f as Family & { typed?: boolean }).typed) throw new PromParseError(line, `second TYPE for ${name}`);
        if (!TYPES.has(rest.trim() as MetricType)) throw new PromParseError(line, `unknown type "${rest}"`);
        f.type = rest.trim() as MetricType;
        (f as Family & { typed?: boolean }).typed = true;
      } else {
        if (f.help !== undefined) throw new PromParseError(line, `second HELP for ${name}`);
        f.help = unescapeHelp(rest, line);
      }
      return;
    }
    const sample = parseSample(raw, line);
    const family = familyOf(sample.name, families);
    if (family === undefined) throw new PromParseError(line, `sample ${sample.name} has no # TYPE before it`);
    if (family !== current) throw new PromParseError(line, `sample ${sample.name} is outside its family's block`);
    if (family.type === "histogram" && sample.name === `${family.name}_bucket` && sample.labels.le === undefined) {
      throw new PromParseError(line, `histogram bucket without le`);
    }
    const key = seriesKey(sample);
    if (seen.has(key)) throw new PromParseError(line, `series ${key} repeated`);
    seen.add(key);
    family.samples.push(sample);
  });
  for (const f of families.values()) checkFamily(f);
  return families;
}

/**
 * The value of the one sample named `name` whose labels are exactly `labels`; 0 when the family exists
 * but has no such series yet (a counter not incremented), an error when the family does not exist.
 */
export function sampleValue(
  families: Map<string, Family>,
  family: string,
  labels: Record<string, string>,
  name = family,
): number {
  const f = families.get(family);
  if (f === undefined) throw new Error(`no metric family ${family}`);
  const want = JSON.stringify(Object.entries(labels).sort());
  const hits = f.samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  if (hits.length > 1) throw new Error(`${name}: ${hits.length} samples with the same labels`);
  return hits[0]?.value ?? 0;
}
