// The limiter shared by all gateway replicas. One EVALSHA checks every rule of a request
// atomically on standalone Redis and Sentinel — and concurrent requests with the same keys
// share that call (see #enqueue); on Cluster, each rule's keys live in their
// own slot, so each rule is one call (sent in parallel, pipelined per node by ioredis) and is
// consumed on its own — see docs/rate-limiting.md for what that changes.
// Every call is bounded by `timeoutMs`; a failed or late store shows up as `storeFailed` in
// the decision, never as a rejection or a stall.
import type { ChainableCommander, Cluster, Redis } from "ioredis";
import { hasCode, InvalidArgumentError } from "../../../core/api/errors.ts";
import { ALGORITHM_CODE } from "./algorithm.ts";
import { toOutcome } from "./check-rules.ts";
import { decide } from "./decision.ts";
import { ARGS_PER_RULE, CHECK_SCRIPT, REPLY_PER_RULE } from "./lua-script.ts";
import { failedOutcome, quotaFor } from "./quota.ts";
import { algorithmOf, allStateKeys, ruleKeys } from "./store-keys.ts";
import type {
  KeyInspection,
  LimitCheck,
  LimitDecision,
  Limiter,
  RuleOutcome,
  StoreFailure,
} from "./types.ts";
import { withTimeout } from "./with-timeout.ts";

/** Any number of rules: the key count comes first. */
const COMMAND = "sluiceRateLimitCheck";
/**
 * Exactly one rule (two keys), key count fixed at definition. ioredis's Cluster
 * auto-pipelining groups a command by its first argument; with a variable key count that is
 * the count, not a key, and calls for different slots end up in one pipeline that ioredis
 * then rejects. Same Lua, so the same SHA and script cache.
 */
const COMMAND_ONE_RULE = "sluiceRateLimitCheckOne";

type Callback = (error: Error | null, reply?: number[]) => void;
type ScriptClient = {
  [COMMAND](numKeys: number, ...args: (string | number | Callback)[]): Promise<number[]>;
  [COMMAND_ONE_RULE](...args: (string | number | Callback)[]): Promise<number[]>;
};
/** Where a script call goes: the client itself, or a pipeline of this turn's calls. */
type ScriptTarget = Redis | Cluster | ChainableCommander;

/** Most requests one script call checks: bounds how long one call holds Redis. */
const MAX_BATCH = 200;

interface ScriptCall {
  keys: string[];
  /** Per rule: algorithm, limit, burst, period, cost, block. */
  args: (string | number)[];
  dryRun: boolean;
  clock: string;
}

type Waiter = (outcomes: RuleOutcome[]) => void;

/** Requests waiting for the same script call. */
interface Batch {
  checks: readonly LimitCheck[];
  call: ScriptCall;
  waiters: Waiter[];
}

export interface RedisLimiterOptions {
  /** Upper bound for one check, in ms (default 50). */
  timeoutMs?: number;
  /** Called with every store error (timeouts included), for logs and metrics. */
  onError?: (error: Error) => void;
  /**
   * Called once per script call (which may answer many requests) with its duration and,
   * when it failed, why: for the Redis metrics, timed per call rather than per request.
   */
  onCall?: (seconds: number, failure: StoreFailure | undefined) => void;
  /** Close the client with the limiter (the factory sets this for clients it created). */
  ownsClient?: boolean;
  /** Tests only: a clock (ms) sent to the script in place of Redis TIME. */
  clock?: () => number;
}

export class RedisLimiter implements Limiter {
  readonly #client: Redis | Cluster;
  readonly #timeoutMs: number;
  readonly #onError: (error: Error) => void;
  readonly #onCall: RedisLimiterOptions["onCall"];
  readonly #ownsClient: boolean;
  readonly #clock: (() => number) | undefined;
  readonly #pending = new Map<string, Batch>();
  #flushScheduled = false;

  constructor(client: Redis | Cluster, options: RedisLimiterOptions = {}) {
    const { timeoutMs = 50, onError = () => {}, onCall, ownsClient = false, clock } = options;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new InvalidArgumentError("timeoutMs must be a positive number");
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#onError = onError;
    this.#onCall = onCall;
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

  check(checks: readonly LimitCheck[]): Promise<LimitDecision> {
    if (checks.length === 0) return Promise.resolve(decide([]));
    // Standalone and Sentinel: any keys can share a script call. Cluster: a script may only
    // touch one slot, and each rule has its own hash tag.
    if (!this.#client.isCluster) return this.#enqueue(checks).then(decide);
    return Promise.all(checks.map((c) => this.#enqueue([c]))).then((outcomes) => decide(outcomes.flat()));
  }

  /**
   * Concurrent requests of one client ask the same question of the same keys. They wait for
   * the end of this turn of the event loop (setImmediate: every request read in this turn
   * is in) and go to Redis as one script call that checks them one after the other — the
   * same answers, in the same order, as one call each, for a fraction of the work on both
   * sides.
   */
  #enqueue(checks: readonly LimitCheck[]): Promise<RuleOutcome[]> {
    const call = this.#call(checks, false);
    const signature = `${call.keys.join("\n")}\n${call.args.join(",")}`;
    let batch = this.#pending.get(signature);
    if (!batch) {
      batch = { checks, call, waiters: [] };
      this.#pending.set(signature, batch);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(this.#flush);
      }
    }
    const { promise, resolve } = Promise.withResolvers<RuleOutcome[]>();
    batch.waiters.push(resolve);
    if (batch.waiters.length >= MAX_BATCH) {
      this.#pending.delete(signature);
      this.#send(batch, this.#client);
    }
    return promise;
  }

  readonly #flush = () => {
    this.#flushScheduled = false;
    const batches = [...this.#pending.values()];
    this.#pending.clear();
    // Cluster: ioredis's auto-pipelining groups calls per node. Otherwise the calls of this
    // turn go out in one write now — auto-pipelining would wait for one more turn of the
    // loop (its own setImmediate), and every request in the batch would wait with it.
    if (this.#client.isCluster || batches.length === 1) {
      for (const batch of batches) this.#send(batch, this.#client);
      return;
    }
    const pipeline = this.#client.pipeline();
    for (const batch of batches) this.#send(batch, pipeline);
    pipeline.exec().catch(() => {}); // each call hears its own error
  };

  #send(batch: Batch, via: ScriptTarget): void {
    const { checks, call, waiters } = batch;
    const started = performance.now();
    let reply: Promise<number[]>;
    try {
      reply = this.#exec(call, waiters.length, via);
    } catch (error) {
      reply = Promise.reject(error);
    }
    withTimeout(reply, this.#timeoutMs).then(
      (reply) => {
        this.#onCall?.((performance.now() - started) / 1000, undefined);
        const perRequest = checks.length * REPLY_PER_RULE;
        for (let i = 0; i < waiters.length; i++)
          (waiters[i] as Waiter)(outcomesOf(checks, reply, i * perRequest));
      },
      (error: Error) => {
        // Our own timer (with-timeout.ts) bounds every call; ioredis's commandTimeout is set
        // longer (create-limiter.ts), so a late store shows up here with our code.
        const failure: StoreFailure = hasCode(error, "SLUICE_RATELIMIT_TIMEOUT") ? "timeout" : "unavailable";
        this.#onCall?.((performance.now() - started) / 1000, failure);
        this.#onError(error);
        const outcomes = checks.map((check) => failedOutcome(check, failure));
        for (const resolve of waiters) resolve(outcomes);
      },
    );
  }

  /** Keys and arguments of a script call for one request's checks (repeat count set at send). */
  #call(checks: readonly LimitCheck[], dryRun: boolean): ScriptCall {
    const keys: string[] = [];
    const args: (string | number)[] = [];
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
    if (args.length !== checks.length * ARGS_PER_RULE) throw new Error("argument layout mismatch");
    return { keys, args, dryRun, clock: this.#clock ? String(this.#clock()) : "" };
  }

  #exec(call: ScriptCall, repeats: number, via: ScriptTarget = this.#client): Promise<number[]> {
    const target = via as unknown as ScriptClient;
    const args = [...call.keys, call.dryRun ? "1" : "0", call.clock, repeats, ...call.args];
    if (via === this.#client)
      return call.keys.length === 2
        ? target[COMMAND_ONE_RULE](...args)
        : target[COMMAND](call.keys.length, ...args);
    // On a pipeline a command returns the pipeline; its reply comes to a callback.
    return new Promise((resolve, reject) => {
      const done = (error: Error | null, reply?: number[]) => (error ? reject(error) : resolve(reply ?? []));
      if (call.keys.length === 2) target[COMMAND_ONE_RULE](...args, done);
      else target[COMMAND](call.keys.length, ...args, done);
    });
  }

  async inspect(check: LimitCheck): Promise<KeyInspection> {
    const keys = ruleKeys(check);
    // A request as the data plane would send it, as a dry run (see MemoryLimiter.inspect).
    const probe = [check];
    const [reply, raw, pttl] = await withTimeout(
      Promise.all([
        this.#exec(this.#call(probe, true), 1),
        this.#client.hgetall(keys.state),
        this.#client.pttl(keys.block),
      ]),
      this.#timeoutMs * 4,
    );
    const state: Record<string, number> = {};
    for (const [field, value] of Object.entries(raw)) state[field] = Number(value);
    return { outcome: outcomesOf(probe, reply, 0)[0] as RuleOutcome, state, blockedForMs: Math.max(0, pttl) };
  }

  async reset(check: LimitCheck): Promise<void> {
    // All keys of one (policy, rule, key) share a hash tag, so one DEL is valid on Cluster.
    await withTimeout(this.#client.del(...allStateKeys(check), ruleKeys(check).block), this.#timeoutMs * 4);
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

/** One request's outcomes from a reply that may hold several requests' answers. */
function outcomesOf(checks: readonly LimitCheck[], reply: number[], from: number): RuleOutcome[] {
  return checks.map((check, i) => {
    const at = from + i * REPLY_PER_RULE;
    return toOutcome(check, {
      allowed: reply[at] === 1,
      remaining: reply[at + 1] ?? 0,
      resetMs: reply[at + 2] ?? 0,
      retryAfterMs: reply[at + 3] ?? 0,
      blocked: reply[at + 4] === 1,
    });
  });
}
