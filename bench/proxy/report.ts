// Formats the proxy bench's results: one markdown section, printed to stdout as it is
// (its columns are padded, so it reads as a plain table too) and put at the top of
// docs/benchmarks.md, newest first, so earlier runs stay for comparison.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { cpuModel } from "./cpu.ts";
import type { LoadResult } from "./load.ts";

export interface Row {
  target: string;
  about: string;
  skipped?: string; // why the target was not measured
  sat?: LoadResult; // the median saturation run by req/s
  runs?: number[]; // req/s of every run, when repeated
  cpus?: string; // Cpus_allowed_list of the target's process, read back
  busy?: string; // "CPU0/CPU1" busy % during the reported saturation run
}

export interface Setup {
  heading: string;
  lines: string[]; // method and machine, one bullet each
  notes: string[];
}

export const ms = (v: number | undefined) => (v === undefined ? "" : v < 10 ? v.toFixed(2) : v.toFixed(1));
export const int = (v: number | undefined) => (v === undefined ? "" : Math.round(v).toLocaleString("en-US"));

export function section(setup: Setup, rows: Row[]): string {
  const header = ["target", "req/s", "p50 ms", "p99 ms", "errors", "pinned to", "CPU0/1 busy %"];
  const body = rows
    .filter((r) => !r.skipped)
    .map((r) => [
      r.target,
      int(r.sat?.rps) + (r.runs && r.runs.length > 1 ? ` (${r.runs.map(int).join(" / ")})` : ""),
      ms(r.sat?.p50),
      ms(r.sat?.p99),
      int(r.sat?.errors),
      r.cpus ?? "",
      r.busy ?? "",
    ]);
  const out = [
    `## ${setup.heading}`,
    "",
    ...setup.lines.map((l) => `- ${l}`),
    "",
    ...table(header, body),
    "",
  ];

  const get = (name: string) => rows.find((r) => r.target === name && r.sat);
  const ratio = (a: string, b: string) => {
    const x = get(a)?.sat;
    const y = get(b)?.sat;
    if (!x || !y) return [];
    // Rounds are interleaved, so the two runs of one round saw the same minute of the
    // machine: the median of per-round ratios cancels a slow minute that the ratio of the
    // two medians (each possibly from a different round) would not. The ratio of the best
    // runs compares each target at its least disturbed: on a shared machine whose slowdowns
    // are invisible to us (no steal, no other process), the fastest run is the closest to
    // what the code costs.
    const ra = get(a)?.runs ?? [];
    const rb = get(b)?.runs ?? [];
    const perRound = ra.length > 1 && ra.length === rb.length ? ra.map((v, i) => v / (rb[i] as number)) : [];
    const rps =
      perRound.length > 0
        ? `×${median(perRound).toFixed(2)} (median of rounds: ${perRound.map((v) => v.toFixed(2)).join(" / ")}; ` +
          `of medians ×${(x.rps / y.rps).toFixed(2)}; of best runs ×${(Math.max(...ra) / Math.max(...rb)).toFixed(2)})`
        : `×${(x.rps / y.rps).toFixed(2)}`;
    return [
      `${a}/${b}: req/s ${rps}, p50 ×${(x.p50 / y.p50).toFixed(2)}, p99 ×${(x.p99 / y.p99).toFixed(2)}`,
    ];
  };
  const ratios = [
    ...ratio("sluice", "fastify"),
    ...ratio("sluice", "nginx"),
    ...ratio("fastify", "nginx"),
    ...ratio("sluice-10k", "sluice-apikey"),
    ...ratio("sluice", "minimal-undici"),
    ...ratio("sluice", "sluice-quiet"),
    ...ratio("sluice-traced", "sluice"),
    ...ratio("sluice-limited", "sluice"),
    ...ratio("sluice-apikey", "sluice"),
    ...ratio("sluice-full", "sluice"),
  ];
  if (ratios.length) out.push("Ratios (saturation runs):", "", ...ratios.map((r) => `- ${r}`), "");
  const notes = [
    ...rows.filter((r) => r.skipped).map((r) => `**${r.target} skipped**: ${r.skipped}`),
    ...setup.notes,
  ];
  if (notes.length) out.push("Notes:", "", ...notes.map((n) => `- ${n}`), "");
  out.push("Targets:", "", ...rows.map((r) => `- ${r.target}: ${r.about}`), "");
  return out.join("\n");
}

export function median(values: number[]): number {
  const sorted = [...values].sort((p, q) => p - q);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function table(header: string[], body: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `-${"-".repeat(w)}:`)).join("|")}|`;
  return [line(header), rule, ...body.map(line)];
}

const TITLE = `# Proxy benchmarks

Written by \`node bench/proxy/run.ts\`, \`node bench/proxy/paired.ts\` and
\`node bench/proxy/latency.ts\` (method in their header comments and in each section below);
newest first. Numbers from different machines or days are not comparable: compare targets
within one section. The ½-load columns of older run.ts sections were measured closed loop
(wrk paced by pace.lua), which hides stalls, and are superseded by latency.ts's open-loop
sections.
`;

/** "<date> UTC · <CPUs> · Node <version> · nginx/<version>": a section's heading. */
export function machineHeading(what?: string): string {
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  return [`${when} UTC`, what, `${cpus().length} × ${cpuModel()}`, `Node ${process.version}`, nginxVersion()]
    .filter(Boolean)
    .join(" · ");
}

function nginxVersion(): string {
  // nginx -v prints to stderr
  const r = spawnSync("nginx", ["-v"], { encoding: "utf8" });
  return r.error ? "nginx not installed" : r.stderr.replace("nginx version: ", "").trim();
}

/** Puts the section below the title, above earlier sections. */
export function writeMarkdown(file: string, text: string): void {
  const old = existsSync(file) ? readFileSync(file, "utf8") : TITLE;
  const at = old.indexOf("\n## ");
  const next =
    at < 0 ? `${old.trimEnd()}\n\n${text}` : `${old.slice(0, at + 1)}${text}\n${old.slice(at + 1)}`;
  writeFileSync(file, next);
}
