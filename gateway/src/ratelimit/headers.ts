// Rate-limit response headers per draft-ietf-httpapi-ratelimit-headers-10:
//   RateLimit-Policy: "ns/policy/rule";q=100;w=60
//   RateLimit: "ns/policy/rule";r=42;t=17
// Both are Structured Field lists (RFC 9651) with one item: the most restrictive rule among
// those whose policy reports headers. Legacy X-RateLimit-Limit/Remaining/Reset (Reset in
// delta seconds) are added for DraftAndLegacy. Retry-After is set on every refusal.
import { BoundedCache } from "../bounded-cache.ts";
import type { RuleOutcome } from "./types.ts";

export type ResponseHeadersMode = "Draft" | "DraftAndLegacy" | "None";

/**
 * An sf-string: printable ASCII with `"` and `\` escaped. Anything else (control or non-ASCII
 * characters, which Kubernetes names cannot contain) becomes `?` rather than an invalid field.
 */
export function sfString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else out += "?";
  }
  return `${out}"`;
}

/** The name clients see: `<namespace>/<policy>/<rule>`. */
export function quotaPolicyName(outcome: Pick<RuleOutcome, "policyId" | "rule">): string {
  return `${outcome.policyId}/${outcome.rule}`;
}

/** Names come from the snapshot (a bounded set): each is quoted once, not per response. */
const quotedNames = new BoundedCache<string>(10_000);
const quotedName = (outcome: Pick<RuleOutcome, "policyId" | "rule">) => {
  const name = quotaPolicyName(outcome);
  return quotedNames.get(name, () => sfString(name));
};

/** sf-integers are at most 15 digits; seconds are whole. */
function seconds(ms: number): number {
  return Math.min(999_999_999_999_999, Math.ceil(ms / 1000));
}

export function rateLimitHeaders(
  outcome: RuleOutcome | undefined,
  mode: ResponseHeadersMode,
): Record<string, string> {
  if (!outcome || mode === "None" || outcome.status === "failed") return {};
  const name = quotedName(outcome);
  const q = outcome.limit;
  // Token and leaky buckets can hold more than the per-period quota (burst); clients read r
  // against q, so r is capped at q.
  const r = Math.min(outcome.remaining, q);
  const t = seconds(outcome.resetMs);
  const headers: Record<string, string> = {
    "ratelimit-policy": `${name};q=${q};w=${Math.max(1, seconds(outcome.windowMs))}`,
    ratelimit: `${name};r=${r};t=${t}`,
  };
  if (mode === "DraftAndLegacy") {
    headers["x-ratelimit-limit"] = String(q);
    headers["x-ratelimit-remaining"] = String(r);
    headers["x-ratelimit-reset"] = String(t);
  }
  return headers;
}

/** Delta seconds, at least 1 (0 would invite an immediate retry that is refused again). */
export function retryAfterHeader(retryAfterSeconds: number): Record<string, string> {
  return { "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))) };
}
