// Blocks found by another worker of the pod (learn): refused here at once.
import { describe, expect, it } from "vitest";
import { MemoryLimiter } from "../ratelimit/memory-limiter.ts";
import { BruteForceGuard } from "./brute-force.ts";

const settings = { limit: 2, windowMs: 60_000, blockMs: 300_000 };

describe("brute-force blocks shared between workers", () => {
  it("a block one guard finds is handed on, and another guard refuses that client at once", async () => {
    const now = 1_000_000;
    const found: [string, number][] = [];
    const first = new BruteForceGuard(
      new MemoryLimiter(),
      { ...settings, onBlocked: (key, until) => found.push([key, until]) },
      () => now,
    );
    const second = new BruteForceGuard(new MemoryLimiter(), settings, () => now);
    for (let i = 0; i < 3; i++)
      await first.failed({ client: "10.0.0.7", policy: "ns/p", method: "apiKey", reason: "apiKey:invalid" });
    expect(found.map(([key]) => key)).toEqual(["client:10.0.0.7"]);
    expect(second.retryAfter("10.0.0.7", "ns/p", () => [])).toBe(0);
    for (const [key, until] of found) second.learn(key, until);
    expect(second.retryAfter("10.0.0.7", "ns/p", () => [])).toBeGreaterThan(0);
    expect(second.retryAfter("10.0.0.8", "ns/p", () => [])).toBe(0);
  });

  it("learns credential blocks per policy, and ignores what has already ended", () => {
    const now = 1_000_000;
    const guard = new BruteForceGuard(new MemoryLimiter(), settings, () => now);
    guard.learn("credential:ns/p abc", now + 5_000);
    guard.learn("client:10.0.0.9", now - 1);
    expect(guard.retryAfter("10.0.0.1", "ns/p", () => ["abc"])).toBe(5);
    expect(guard.retryAfter("10.0.0.1", "ns/other", () => ["abc"])).toBe(0);
    expect(guard.retryAfter("10.0.0.9", "ns/p", () => [])).toBe(0);
  });
});
