// The limiter shared by all gateway replicas. One EVALSHA per request checks every rule
// atomically on standalone Redis and Sentinel; on Cluster, each rule's keys live in their
// own slot, so each rule is one call (sent in parallel, pipelined per node by ioredis) and is
// consumed on its own — see docs/rate-limiting.md for what that changes.
// Every call is bounded by `timeoutMs`; a failed or late store shows up as `storeFailed` in
// the decision, never as a rejection or a stall.
import type { Cluster, Redis } from "ioredis";
import { ALGORITHM_CODE } from "./algorithm.ts";
import { toOutcome } from "./check-rules.ts";
import { decide } from "./decision.ts";
import { ARGS_PER_RULE, CHECK_SCRIPT, REPLY_PER_RULE } from "./lua-script.ts";
import { quotaFor } from "./quota.ts";
import { algorithmOf, allStateKeys, ruleKeys } from "./store-keys.ts";
import type {
  KeyInspection,
  LimitCheck,
  LimitDecision,
  Limiter,
  RuleOutcome,
  StoreFailure,
} from "./types.ts";
import { StoreTimeoutError, withTimeout } from "./with-timeout.ts";

/** Any number of rules: the key count comes first. */
const COMMAND = "sluiceRateLimitCheck";
/**
 * Exactly one rule (two keys), key count fixed at definition. ioredis's Cluster
 * auto-pipelining groups a command by its first argument; with a variable key count that is
 * the count, not a key, and calls for different slots end up in one pipeline that ioredis
 * then rejects. Same Lua, so the same SHA and script cache.
 */
const COMMAND_ONE_RULE = "sluiceRateLimitCheckOne";

type ScriptClient = {
  [COMMAND](numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  [COMMAND_ONE_RULE](...args: (string | number)[]): Promise<number[]>;
};

export interface RedisLimiterOptions {
  /** Upper bound for one check, in ms (default 50). */
  timeoutMs?: number;
  /** Called with every store error (timeouts included), for logs and metrics. */
  onError?: (error: Error) => void;
  /** Close the client with the limiter (the factory sets this for clients it created). */
  ownsClient?: boolean;
  /** Tests only: a clock (ms) sent to the script in place of Redis TIME. */
  clock?: () => number;
}

export class RedisLimiter implements Limiter {
  readonly #client: Redis | Cluster;
  readonly #timeoutMs: number;
  readonly #onError: (error: Error) => void;
  readonly #ownsClient: boolean;
  readonly #clock: (() => number) | undefined;

  constructor(client: Redis | Cluster, options: RedisLimiterOptions = {}) {
    const { timeoutMs = 50, onError = () => {}, ownsClient = false, clock } = options;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError("timeoutMs must be a positive number");
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#onError = onError;
    this.#ownsClient = ownsClient;
    this.#clock = clock;
    // ioredis sends EVALSHA, and on NOSCRIPT (a restarted or flushed server) loads the
    // script with EVAL and retries, per connection.
    client.defineCommand(COMMAND, { lua: CHECK_SCRIPT });
    client.defineCommand(COMMAND_ONE_RULE, { lua: CHECK_SCRIPT, numberOfKeys: 2 });
  }

  /**
   * Commands fail at once while the client connects (no offline queue, on purpose), so a
   * gateway that served before its first connection would count every early request as a
   * store failure: the server waits for this, briefly, before it listens.
   */
  connected(timeoutMs: number): Promise<boolean> {
    if (this.#client.status === "ready") return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#client.off("ready", onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#client.once("ready", onReady);
    });
  }

  async check(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    if (checks.length === 0) return decide([]);
    // Standalone and Sentinel: any keys can share a script call. Cluster: a script may only
    // touch one slot, and each rule has its own hash tag.
    const groups = this.#client.isCluster ? checks.map((c) => [c]) : [checks];
    const outcomes = await Promise.all(groups.map((g) => this.#checkGroup(g)));
    return decide(outcomes.flat());
  }

  async #checkGroup(checks: readonly LimitCheck[]): Promise<RuleOutcome[]> {
    try {
      return await withTimeout(this.#run(checks, false), this.#timeoutMs);
    } catch (error) {
      const failure: StoreFailure =
        error instanceof StoreTimeoutError || /timed out/i.test((error as Error).message)
          ? "timeout"
          : "unavailable";
      this.#onError(error as Error);
      return checks.map((check) => failed(check, failure));
    }
  }

  async #run(checks: readonly LimitCheck[], dryRun: boolean): Promise<RuleOutcome[]> {
    const keys: string[] = [];
    const args: (string | number)[] = [dryRun ? "1" : "0", this.#clock ? String(this.#clock()) : ""];
    for (const check of checks) {
      const k = ruleKeys(check);
      const quota = quotaFor(check.rule, check.key);
      keys.push(k.state, k.block);
      args.push(
        ALGORITHM_CODE[algorithmOf(check.rule.algorithm)],
        quota.limit,
        quota.burst,
        quota.periodMs,
        check.cost ?? 1,
        check.rule.blockMs ?? 0,
      );
    }
    if (args.length !== 2 + checks.length * ARGS_PER_RULE) throw new Error("argument layout mismatch");
    const client = this.#client as unknown as ScriptClient;
    const reply =
      checks.length === 1
        ? await client[COMMAND_ONE_RULE](...keys, ...args)
        : await client[COMMAND](keys.length, ...keys, ...args);
    return checks.map((check, i) => {
      const r = reply.slice(i * REPLY_PER_RULE, (i + 1) * REPLY_PER_RULE);
      return toOutcome(check, {
        allowed: r[0] === 1,
        remaining: r[1] ?? 0,
        resetMs: r[2] ?? 0,
        retryAfterMs: r[3] ?? 0,
        blocked: r[4] === 1,
      });
    });
  }

  async inspect(check: LimitCheck): Promise<KeyInspection> {
    const keys = ruleKeys(check);
    const [outcomes, raw, pttl] = await withTimeout(
      Promise.all([
        this.#run([{ ...check, cost: 0 }], true),
        this.#client.hgetall(keys.state),
        this.#client.pttl(keys.block),
      ]),
      this.#timeoutMs * 4,
    );
    const state: Record<string, number> = {};
    for (const [field, value] of Object.entries(raw)) state[field] = Number(value);
    return { outcome: outcomes[0] as RuleOutcome, state, blockedForMs: Math.max(0, pttl) };
  }

  async reset(check: LimitCheck): Promise<void> {
    // All keys of one (policy, rule, key) share a hash tag, so one DEL is valid on Cluster.
    await withTimeout(this.#client.del(...allStateKeys(check), ruleKeys(check).block), this.#timeoutMs * 4);
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

function failed(check: LimitCheck, failure: StoreFailure): RuleOutcome {
  const quota = quotaFor(check.rule, check.key);
  return {
    policyId: check.policyId,
    rule: check.rule.name,
    status: "failed",
    limit: quota.limit,
    windowMs: quota.periodMs,
    remaining: 0,
    resetMs: 0,
    retryAfterMs: 0,
    blocked: false,
    failure,
  };
}
