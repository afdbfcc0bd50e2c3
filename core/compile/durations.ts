const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * Milliseconds of a Gateway API duration ("1m30s", "250ms"). The schema has checked the
 * syntax, and refused zero where zero makes no sense (PositiveDuration in core/api/common.ts).
 */
export function durationMs(value: string): number {
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)(ms|h|m|s)/g))
    total += Number(n) * (UNIT_MS[unit as string] ?? 0);
  return total;
}
