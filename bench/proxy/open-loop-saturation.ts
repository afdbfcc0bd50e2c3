// A target's saturation rate found open loop: the highest constant rate it keeps up with.
// wrk's closed-loop saturation counts on many requests waiting in each event-loop turn
// (its 50 connections always have a request outstanding); at a constant rate requests
// arrive one by one, each turn carries fewer, and a Node proxy's per-turn costs make it
// saturate well below wrk's figure — at half of wrk's rate every Node target fell behind
// vegeta's schedule (docs/benchmarks.md, 2026-12-07). So the latency bench's "half load" is
// half of the rate found here.
//
// "Keeps up" at a rate: vegeta sent at least SENT_SHARE of it (else the generator, not the
// target, is the limit, and the search stops there), at least SUCCESS_SHARE of requests
// succeeded, and the p99 stayed under P99_LIMIT_MS (past saturation the queue, and so every
// latency, grows for as long as the attack lasts). The search rises by RISE from a start
// until a rate fails, then halves the interval BISECTIONS times.

/** What one short attack at `rate` gave. */
export interface Probe {
  rate: number;
  sent: number;
  success: number;
  p99: number;
}

export const SENT_SHARE = 0.97;
export const SUCCESS_SHARE = 0.999;
export const P99_LIMIT_MS = 20;
const RISE = 1.25;
const BISECTIONS = 3;
const MAX_PROBES = 16;

export type Verdict = "keeps up" | "falls behind" | "generator-bound";

export function verdict(p: Probe): Verdict {
  if (p.sent < SENT_SHARE * p.rate) return "generator-bound";
  return p.success >= SUCCESS_SHARE && p.p99 <= P99_LIMIT_MS ? "keeps up" : "falls behind";
}

export interface Saturation {
  /** The highest rate the target kept up with (req/s). */
  rate: number;
  /** True when the generator could not go faster: the target's real saturation is higher. */
  generatorBound: boolean;
  probes: (Probe & { verdict: Verdict })[];
}

/**
 * Searches from `start` req/s with `attack` (one short open-loop attack per call).
 * The result is never above a rate the target was seen keeping up with.
 */
export async function findSaturation(
  start: number,
  attack: (rate: number) => Promise<Probe>,
): Promise<Saturation> {
  const probes: Saturation["probes"] = [];
  const probe = async (rate: number) => {
    const p = await attack(Math.round(rate));
    const v = verdict(p);
    probes.push({ ...p, verdict: v });
    return v;
  };
  let low = 0;
  let high: number | undefined;
  let rate = start;
  // Rise (or fall, when the start is already too fast) until the rate is bracketed.
  while (probes.length < MAX_PROBES) {
    const v = await probe(rate);
    if (v === "generator-bound") {
      // Above what vegeta can send: report the last rate kept up with, or this one if none.
      return { rate: low || rate, generatorBound: true, probes };
    }
    if (v === "keeps up") {
      low = rate;
      if (high !== undefined) break;
      rate *= RISE;
    } else {
      high = rate;
      if (low > 0) break;
      rate /= RISE;
    }
  }
  for (let i = 0; i < BISECTIONS && high !== undefined && low > 0 && probes.length < MAX_PROBES; i++) {
    const mid = (low + high) / 2;
    if ((await probe(mid)) === "keeps up") low = mid;
    else high = mid;
  }
  return { rate: Math.round(low), generatorBound: false, probes };
}
