/** Small formatting helpers shared by the benchmarks. */
import { cpus, loadavg } from "node:os";

/** Prints rows as a fixed-width table (first column left-aligned, the others right-aligned). */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** `12,345` */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** `n` with `digits` decimals. */
export function fixed(n: number, digits = 2): string {
  return n.toFixed(digits);
}

/** `87.3 %` */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}

/** One line about the machine, for the top of a report. */
export function machineLine(title: string): string {
  const cpu = cpus();
  return `${title} — node ${process.version}, ${process.platform} ${process.arch}, ${cpu.length} CPUs (${cpu[0]?.model ?? "?"}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

/** The value at percentile `p` (0–1) of already sorted numbers. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}
