// From decision to response: refusal wins over store failure; failureMode per policy;
// headers only from policies that want them and never when the store failed.
import { describe, expect, it } from "vitest";
import { decide } from "./decision.ts";
import { rateLimitOutcome } from "./outcome.ts";
import type { RuleOutcome } from "./types.ts";

const policies = new Map([
  ["ns/open", { failureMode: "Open" as const, responseHeaders: "Draft" as const }],
  ["ns/closed", { failureMode: "Closed" as const, responseHeaders: "DraftAndLegacy" as const }],
  ["ns/quiet", { failureMode: "Open" as const, responseHeaders: "None" as const }],
]);
const lookup = (id: string) => policies.get(id);

function o(policyId: string, status: RuleOutcome["status"], over: Partial<RuleOutcome> = {}): RuleOutcome {
  return {
    policyId,
    rule: "r",
    status,
    limit: 10,
    windowMs: 1000,
    remaining: status === "allowed" ? 5 : 0,
    // A refusal's reset (the draft's t) is its retry: the limiter guarantees it (algorithm.ts).
    resetMs: status === "refused" ? 1500 : 500,
    retryAfterMs: status === "refused" ? 1500 : 0,
    blocked: false,
    ...(status === "failed" ? { failure: "timeout" as const } : {}),
    ...over,
  };
}

describe("rateLimitOutcome", () => {
  it("passes with headers of the tightest rule whose policy reports headers", () => {
    const out = rateLimitOutcome(
      decide([o("ns/open", "allowed", { remaining: 8 }), o("ns/quiet", "allowed", { remaining: 1 })]),
      lookup,
    );
    expect(out).toMatchObject({ action: "pass", headers: { ratelimit: '"ns/open/r";r=8;t=1' } });
  });

  it("refuses with 429, Retry-After and the refusing policy named", () => {
    const out = rateLimitOutcome(decide([o("ns/open", "allowed"), o("ns/closed", "refused")]), lookup);
    expect(out).toMatchObject({ action: "refuse", problem: { status: 429 } });
    expect(out.headers).toMatchObject({ "retry-after": "2", "x-ratelimit-remaining": "0" });
    expect(out.action === "refuse" && out.detail).toContain("ns/closed/r");
  });

  it("with several refusing rules, t and Retry-After come from the same (longest) wait", () => {
    const out = rateLimitOutcome(
      decide([
        o("ns/open", "refused", { rule: "short", resetMs: 1200, retryAfterMs: 1200 }),
        o("ns/open", "refused", { rule: "long", resetMs: 7001, retryAfterMs: 7001 }),
      ]),
      lookup,
    );
    expect(out.headers).toMatchObject({ ratelimit: '"ns/open/long";r=0;t=8', "retry-after": "8" });
  });

  it("a refusal by a policy without headers still sends Retry-After only", () => {
    const out = rateLimitOutcome(decide([o("ns/quiet", "refused")]), lookup);
    expect(out.headers).toEqual({ "retry-after": "2" });
  });

  it("store failure: Closed refuses with 503, Open passes without headers and reports the rule", () => {
    const closed = rateLimitOutcome(decide([o("ns/open", "allowed"), o("ns/closed", "failed")]), lookup);
    expect(closed).toMatchObject({ action: "refuse", problem: { status: 503 } });
    const open = rateLimitOutcome(decide([o("ns/open", "failed"), o("ns/quiet", "allowed")]), lookup);
    expect(open).toMatchObject({ action: "pass", headers: {} });
    expect(open.failedOpen.map((r) => r.policyId)).toEqual(["ns/open"]);
  });

  it("a refusal wins over a failure", () => {
    const out = rateLimitOutcome(decide([o("ns/closed", "failed"), o("ns/open", "refused")]), lookup);
    expect(out).toMatchObject({ action: "refuse", problem: { status: 429 } });
  });
});
