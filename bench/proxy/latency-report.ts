// Formats latency.ts's results as one markdown section, in the style of report.ts (padded
// table, then ratios, notes and targets), and judges the issue's latency target: Sluice's p99
// at most 1 ms above nginx's.
import type { Setup } from "./report.ts";
import { int, median, ms, table } from "./report.ts";
import type { Measured } from "./shared-machine.ts";
import type { OpenLoopSummary } from "./vegeta-results.ts";

export type Run = Measured<OpenLoopSummary>;

export interface LatencyRow {
  target: string;
  about: string;
  skipped?: string; // why the target was not measured
  saturation?: number; // req/s the rate was derived from
  saturationFrom?: string; // "open loop", "open loop, vegeta-bound" or "BENCH_RATES"
  rate?: number; // req/s asked of vegeta
  runs: Run[]; // one per round
  /** `direct` attacked at this target's rate in the same round: the generator's own floor. */
  floors: Run[];
  cpus?: string;
}

/** How much above nginx's p99 Sluice's may be, in ms (issue 17). */
export const P99_MARGIN_MS = 1;

/**
 * The row of nginx attacked at sluice's rate: the bar Sluice is judged by when vegeta cannot
 * reach half of nginx's saturation rate (a 2-core machine: vegeta costs ~40 µs of CPU per
 * request and shares its core with the upstream).
 */
export const NGINX_AT_SLUICE_RATE = "nginx at sluice's rate";

const pct = (v: number) => `${(100 * v).toFixed(v < 1 ? 2 : 0)}`;

export function latencySection(setup: Setup, rows: LatencyRow[]): string {
  const header = [
    "target",
    "saturation req/s",
    "asked req/s",
    "sent req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "success %",
    "floor p99 / p99.9 ms",
    "pinned to",
    "CPU0/1 busy %",
  ];
  const med = (runs: Run[], key: keyof OpenLoopSummary & keyof Run) =>
    runs.length ? median(runs.map((r) => r[key] as number)) : undefined;
  const body = rows
    .filter((r) => !r.skipped && r.runs.length > 0)
    .map((r) => [
      r.target,
      `${int(r.saturation)}${r.saturationFrom && r.saturationFrom !== "open loop" ? ` (${r.saturationFrom})` : ""}`,
      int(r.rate),
      int(med(r.runs, "rate")),
      ms(med(r.runs, "p50")),
      ms(med(r.runs, "p90")),
      ms(med(r.runs, "p99")),
      ms(med(r.runs, "p999")),
      ms(med(r.runs, "max")),
      pct(med(r.runs, "success") ?? 0),
      r.floors.length ? `${ms(med(r.floors, "p99"))} / ${ms(med(r.floors, "p999"))}` : "",
      r.cpus ?? "",
      r.runs.map((x) => x.busy).join(", "),
    ]);
  const out = [
    `## ${setup.heading}`,
    "",
    ...setup.lines.map((l) => `- ${l}`),
    "",
    ...table(header, body),
    "",
    `**${p99Verdict(rows)}**`,
    "",
    "p99 / p99.9 of every round (ms):",
    "",
    ...rows
      .filter((r) => r.runs.length > 0)
      .map((r) => `- ${r.target}: ${r.runs.map((x) => `${ms(x.p99)} / ${ms(x.p999)}`).join(" · ")}`),
    "",
  ];
  const notes = [
    ...rows.filter((r) => r.skipped).map((r) => `**${r.target} skipped**: ${r.skipped}`),
    ...checks(rows),
    ...setup.notes,
  ];
  if (notes.length) out.push("Notes:", "", ...notes.map((n) => `- ${n}`), "");
  out.push("Targets:", "", ...rows.map((r) => `- ${r.target}: ${r.about}`), "");
  return out.join("\n");
}

/**
 * "sluice p99 − nginx p99 = X ms (target ≤ 1 ms): met/missed", from the median p99 of each,
 * then the per-round differences (the two ran in the same minute of every round). When
 * nginx's own row measured the generator rather than nginx (see generatorBound), Sluice is
 * held to nginx at Sluice's rate instead: a stricter bar, since nginx at a lower rate has a
 * lower p99.
 */
export function p99Verdict(rows: LatencyRow[]): string {
  const row = (name: string) => rows.find((r) => r.target === name && r.runs.length > 0);
  const sluice = row("sluice");
  const nginx = row("nginx");
  const title = "sluice p99 − nginx p99";
  const bar = `target ≤ ${P99_MARGIN_MS} ms`;
  if (!sluice || !nginx) return `${title}: not measured (needs both targets; ${bar})`;
  const bound = generatorBound(sluice);
  if (bound) return `${title}: not judged, ${bound} (${bar})`;
  let against = nginx;
  let why = "";
  const nginxBound = generatorBound(nginx);
  if (nginxBound) {
    const atSluiceRate = row(NGINX_AT_SLUICE_RATE);
    if (!atSluiceRate || generatorBound(atSluiceRate)) return `${title}: not judged, ${nginxBound} (${bar})`;
    against = atSluiceRate;
    why = ` — against ${NGINX_AT_SLUICE_RATE} (${int(atSluiceRate.rate)} req/s), since ${nginxBound}`;
  }
  const s = sluice.runs.map((x) => x.p99);
  const n = against.runs.map((x) => x.p99);
  const diff = median(s) - median(n);
  const rounds =
    s.length > 1 && s.length === n.length
      ? `; per round: ${s.map((v, i) => (v - (n[i] as number)).toFixed(2)).join(" / ")}`
      : "";
  return `${title} = ${diff.toFixed(2)} ms (${bar}): ${diff <= P99_MARGIN_MS ? "met" : "missed"}${why}${rounds}`;
}

/**
 * Why a row's latencies are the generator's rather than the target's, or undefined: vegeta
 * sent below 95 % of the rate asked (it fell behind its schedule, and the time it was late is
 * in no request's latency), or `direct` at the same rate had more than half the row's p99.
 */
export function generatorBound(r: LatencyRow): string | undefined {
  if (!r.rate || r.runs.length === 0) return undefined;
  const sent = median(r.runs.map((x) => x.rate));
  if (sent < 0.95 * r.rate)
    return `vegeta sent ${int(sent)} req/s of the ${int(r.rate)} asked of ${r.target}: the load core could not keep up`;
  const own = median(r.runs.map((x) => x.p99));
  const floor = r.floors.length ? median(r.floors.map((x) => x.p99)) : undefined;
  if (floor !== undefined && floor > own / 2)
    return `direct at ${r.target}'s rate had a p99 of ${ms(floor)} ms against ${r.target}'s ${ms(own)} ms: most of it is the generator's and the upstream's`;
  return undefined;
}

/** What would make a row's figures mean less than they seem to, one note each. */
export function checks(rows: LatencyRow[]): string[] {
  const notes: string[] = [];
  for (const r of rows) {
    const bound = generatorBound(r);
    if (bound) notes.push(`${r.target}: ${bound}`);
    const failed = r.runs.flatMap((x) => x.errors);
    if (failed.length)
      notes.push(`${r.target}: failed requests: ${[...new Set(failed)].slice(0, 5).join("; ")}`);
  }
  return notes;
}
