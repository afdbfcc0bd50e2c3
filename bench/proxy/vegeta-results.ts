// Reading vegeta's results into latency.ts's figures. `vegeta encode -to csv` writes one line
// per request: send time (ns since the epoch), HTTP status, latency (ns), bytes out, bytes in,
// error, body, attack name, sequence number, method, URL, headers. Only the first three
// fields and the error are read.
//
// Why not vegeta's own `report -type=json`: its percentiles come from a t-digest and stop at
// p99 (no p99.9), and it counts the attack's first moments — the Go runtime starting, every
// connection being opened — which on a 2-second test made p99 24 ms against an upstream that
// answered the rest in 0.2 ms. So the percentiles here are exact (nearest rank over every
// request) and leave out the requests sent in the first `settleSeconds`.

export interface VegetaResult {
  /** When vegeta sent it, ns since the epoch (as a double: 256 ns steps, far below our use). */
  sentNs: number;
  /** HTTP status; 0 when no response came (then `error` says why). */
  code: number;
  /**
   * From the send to the end of the response, ns. vegeta sends on schedule whether or not
   * earlier requests were answered, so a stall of the target shows here; as long as vegeta
   * itself keeps up (the achieved rate matches the rate asked).
   */
  latencyNs: number;
  error: string;
}

export interface OpenLoopSummary {
  /** Requests sent after the settling time. */
  requests: number;
  /** The rate those were sent at (req/s): what vegeta achieved, to compare with the rate asked. */
  rate: number;
  /** Share answered with 2xx/3xx, as vegeta counts success. */
  success: number;
  p50: number; // ms
  p90: number; // ms
  p99: number; // ms
  p999: number; // ms
  max: number; // ms
  /** Distinct errors (vegeta's message, or "HTTP <status>"), most frequent first, with counts. */
  errors: string[];
}

/** One line of `vegeta encode -to csv`; undefined when it is not one (a blank line). */
export function parseCsvLine(line: string): VegetaResult | undefined {
  const fields: string[] = [];
  let at = 0;
  // The first five fields are numbers; the sixth, the error, is quoted when it holds a comma
  // or a quote (CSV: a quote inside is doubled). Nothing after it is needed.
  while (fields.length < 6 && at <= line.length) {
    if (line[at] === '"') {
      let value = "";
      let i = at + 1;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        value += line.slice(i, q);
        if (line[q + 1] !== '"') {
          at = q + 2; // past the closing quote and the comma
          break;
        }
        value += '"';
        i = q + 2;
      }
      fields.push(value);
    } else {
      const comma = line.indexOf(",", at);
      const end = comma < 0 ? line.length : comma;
      fields.push(line.slice(at, end));
      at = end + 1;
    }
  }
  const [sent, code, latency, , , error = ""] = fields;
  const result = { sentNs: Number(sent), code: Number(code), latencyNs: Number(latency), error };
  if (!sent || !code || !latency) return undefined;
  if (![result.sentNs, result.code, result.latencyNs].every(Number.isFinite)) return undefined;
  return result;
}

/** The value at or above which a share `1 - p` of `sorted` lies: nearest rank, no interpolation. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(results: VegetaResult[], settleSeconds: number): OpenLoopSummary {
  let first = Number.POSITIVE_INFINITY;
  for (const r of results) first = Math.min(first, r.sentNs);
  const kept = results.filter((r) => r.sentNs >= first + settleSeconds * 1e9);
  const latencies = new Float64Array(kept.length);
  let ok = 0;
  let firstSent = Number.POSITIVE_INFINITY;
  let lastSent = Number.NEGATIVE_INFINITY;
  const errors = new Map<string, number>();
  kept.forEach((r, i) => {
    latencies[i] = r.latencyNs / 1e6;
    firstSent = Math.min(firstSent, r.sentNs);
    lastSent = Math.max(lastSent, r.sentNs);
    if (r.code >= 200 && r.code < 400) ok++;
    else {
      const why = r.error || `HTTP ${r.code}`;
      errors.set(why, (errors.get(why) ?? 0) + 1);
    }
  });
  latencies.sort();
  const span = (lastSent - firstSent) / 1e9;
  return {
    requests: kept.length,
    // n sends span n - 1 intervals
    rate: span > 0 ? (kept.length - 1) / span : 0,
    success: kept.length ? ok / kept.length : 0,
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    p999: percentile(latencies, 0.999),
    max: latencies.length ? (latencies[latencies.length - 1] as number) : Number.NaN,
    errors: [...errors].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${n}× ${why}`),
  };
}
