// The registry is the only place codes are defined, and docs/reference/errors.md lists every
// code and every problem type (fastify's test/internals/errors.test.js does the same for
// its docs/Reference/Errors.md).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RemoteJwks } from "../../gateway/src/auth/remote-jwks.ts";
import { Problem } from "../../gateway/src/problem.ts";
import { MemoryLimiter } from "../../gateway/src/ratelimit/memory-limiter.ts";
import { RedisLimiter } from "../../gateway/src/ratelimit/redis-limiter.ts";
import type { ApiClient } from "../kubernetes/api-client.ts";
import { LeaderElector } from "../kubernetes/leader-election.ts";
import {
  BackendTimeoutError,
  ConfigInvalidError,
  ErrorCode,
  GatewayError,
  hasCode,
  InvalidArgumentError,
  JwksUnavailableError,
  JwtAmbiguousKeyError,
  KubernetesApiError,
  RateLimitTimeoutError,
  SluiceError,
  SnapshotRejectedError,
  SourceUnreadableError,
} from "./errors.ts";

const root = join(import.meta.dirname, "../..");
const doc = readFileSync(join(root, "docs/reference/errors.md"), "utf8");

/** Non-test TypeScript under the folders that ship. */
function sources(): string[] {
  return ["cli", "core", "operator/src", "gateway/src"].flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
      .map((f) => join(dir, f)),
  );
}

describe("the error registry", () => {
  it.each(Object.values(ErrorCode))("%s is documented in docs/reference/errors.md", (code) => {
    expect(doc).toContain(`| \`${code}\` |`);
  });

  it.each(Object.values(Problem).map((p) => p.type))(
    "problem type %s is documented in docs/reference/errors.md",
    (type) => {
      expect(doc).toContain(`\`${type}\``);
    },
  );

  it("the doc lists no code the registry does not define", () => {
    const listed = [...doc.matchAll(/^\| `(SLUICE_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it("no code is defined outside core/api/errors.ts", () => {
    const codes = new Set<string>(Object.values(ErrorCode));
    const outside: string[] = [];
    for (const file of sources()) {
      if (file === join("core", "api", "errors.ts")) continue;
      const text = readFileSync(join(root, file), "utf8");
      // A quoted SLUICE_* literal is a code (environment variables are read as env.SLUICE_*).
      for (const [, literal] of text.matchAll(/["'`](SLUICE_[A-Z_]+)/g))
        if (!codes.has(literal as string)) outside.push(`${file}: ${literal}`);
      if (/\bcode\s*=\s*["'`]/.test(text)) outside.push(`${file}: an error class with its own code`);
    }
    expect(outside).toEqual([]);
  });

  it.each([
    [new ConfigInvalidError("x"), "SLUICE_CONFIG_INVALID"],
    [new SnapshotRejectedError("x"), "SLUICE_SNAPSHOT_REJECTED"],
    [new SourceUnreadableError("x"), "SLUICE_SOURCE_UNREADABLE"],
    [new InvalidArgumentError("x"), "SLUICE_INVALID_ARGUMENT"],
    [new KubernetesApiError(404, "GET", "/x", { message: "not found" }), "SLUICE_KUBERNETES_API_STATUS"],
    [new BackendTimeoutError("x"), "SLUICE_BACKEND_TIMEOUT"],
    [new RateLimitTimeoutError(50), "SLUICE_RATELIMIT_TIMEOUT"],
    [new JwksUnavailableError("x"), "SLUICE_JWKS_UNAVAILABLE"],
    [new JwtAmbiguousKeyError("x"), "SLUICE_JWT_AMBIGUOUS_KEY"],
  ] as const)("%o has code %s and is a SluiceError", (error, code) => {
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe(code);
    expect(hasCode(error, code)).toBe(true);
    expect(error.name).toBe(error.constructor.name);
  });

  it("process errors are GatewayErrors whose message starts with the code", () => {
    const error = new ConfigInvalidError("--listen: must be HOST:PORT");
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.message).toBe("SLUICE_CONFIG_INVALID: --listen: must be HOST:PORT");
    expect(new GatewayError("SLUICE_SOURCE_UNREADABLE", "d").message).toBe("SLUICE_SOURCE_UNREADABLE: d");
  });

  it("a Kubernetes API error keeps its status and body", () => {
    const error = new KubernetesApiError(409, "PUT", "/apis/x", { message: "conflict" });
    expect(error.status).toBe(409);
    expect(error.body).toEqual({ message: "conflict" });
    expect(error.message).toBe("PUT /apis/x: 409 conflict");
  });

  it("hasCode is false for anything else", () => {
    expect(hasCode(new Error("SLUICE_CONFIG_INVALID: x"), "SLUICE_CONFIG_INVALID")).toBe(false);
    expect(hasCode(undefined, "SLUICE_CONFIG_INVALID")).toBe(false);
    expect(hasCode("SLUICE_CONFIG_INVALID", "SLUICE_CONFIG_INVALID")).toBe(false);
  });

  const elector =
    (times: Record<string, number>, identity = "me") =>
    () =>
      new LeaderElector({
        client: {} as ApiClient,
        namespace: "ns",
        name: "lease",
        identity,
        onStartedLeading() {},
        onStoppedLeading() {},
        ...times,
      });
  it.each([
    ["leader election: empty identity", elector({}, "")],
    ["leader election: retryPeriodMs 0", elector({ retryPeriodMs: 0 })],
    ["leader election: renewDeadline ≤ retryPeriod", elector({ renewDeadlineMs: 2_000 })],
    ["leader election: leaseDuration ≤ renewDeadline", elector({ leaseDurationMs: 10_000 })],
    ["RedisLimiter: timeoutMs 0", () => new RedisLimiter({} as never, { timeoutMs: 0 })],
    ["MemoryLimiter: maxKeys 0", () => new MemoryLimiter({ maxKeys: 0 })],
    ["RemoteJwks: negative timeoutMs", () => new RemoteJwks("https://idp", { timeoutMs: -1 })],
  ])("%s throws SLUICE_INVALID_ARGUMENT at construction", (_, construct) => {
    expect(construct).toThrow(InvalidArgumentError);
    try {
      construct();
    } catch (err) {
      expect(hasCode(err, "SLUICE_INVALID_ARGUMENT")).toBe(true);
    }
  });
});
