// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection:
// candidates GET the Lease every retryPeriod and take it (PUT with the GET's
// resourceVersion, so exactly one of several racing candidates wins) when it has no holder
// or its holder has not renewed it for leaseDurationSeconds; the leader renews it every
// retryPeriod and steps down if no renewal has succeeded within renewDeadline.
//
// Expiry is measured on our own monotonic clock from the moment we first saw the current
// record (as client-go does), not by comparing the record's renewTime with our wall clock:
// that way clock skew between replicas cannot make a candidate take over early. A
// candidate that starts up in front of a dead holder's lease therefore waits one full
// lease duration. The leader's own term is likewise counted from the *start* of its last
// successful renewal, so it always ends (renewDeadline) before any other candidate can
// see the lease as expired (leaseDuration > renewDeadline).
import { InvalidArgumentError } from "../api/errors.ts";
import { type ApiClient, ApiError } from "./api-client.ts";

export interface LeaderElectionOptions {
  client: ApiClient;
  namespace: string;
  name: string;
  /** Unique per replica (e.g. the pod name). */
  identity: string;
  /** How long a non-renewed lease keeps other candidates out. Default 15000; stored in whole seconds (rounded up). */
  leaseDurationMs?: number;
  /** The leader steps down when no renewal has succeeded for this long. Default 10000; must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts. Default 2000; must be < renewDeadlineMs. */
  retryPeriodMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  spec?: LeaseSpec;
}

/** What one acquire-or-renew round found: we hold the lease, someone else does, or we could not tell. */
type Outcome = { kind: "held" } | { kind: "other"; holder: string } | { kind: "error" };

/** Candidates wait retryPeriod * (1 + random * JITTER) between attempts, like client-go. */
const JITTER = 1.2;

/** A metav1.MicroTime: RFC 3339 with exactly six fractional digits (the API server refuses 3 or 9). */
export function microTime(date = new Date()): string {
  return date.toISOString().replace("Z", "000Z");
}

/**
 * Throws InvalidArgumentError (SLUICE_INVALID_ARGUMENT) unless retryPeriod < renewDeadline <
 * leaseDuration: a leader gets several renewal tries before it steps down, and steps down
 * before its lease lets another candidate in. Exported so the CLI checks its flags up front.
 */
export function checkLeaderElectionTimes(t: {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}): void {
  if (!(t.retryPeriodMs > 0)) throw new InvalidArgumentError("leader election: retryPeriodMs must be > 0");
  if (!(t.renewDeadlineMs > t.retryPeriodMs))
    throw new InvalidArgumentError("leader election: renewDeadlineMs must be greater than retryPeriodMs");
  if (!(t.leaseDurationMs > t.renewDeadlineMs))
    throw new InvalidArgumentError("leader election: leaseDurationMs must be greater than renewDeadlineMs");
}

export class LeaderElector {
  readonly #client: ApiClient;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #onStartedLeading: () => void;
  readonly #onStoppedLeading: () => void;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;

  #started = false;
  #stopped = false;
  #leading = false;
  /** performance.now() after which we are no longer leader unless a renewal succeeded. */
  #leaderUntil = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  /** The lease record last seen, and when (our monotonic clock) it was first seen. */
  #observedRecord = "";
  #observedAt = 0;
  #observedHolder = "";

  constructor(o: LeaderElectionOptions) {
    this.#client = o.client;
    this.#namespace = o.namespace;
    this.#name = o.name;
    this.#identity = o.identity;
    this.#leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = o.retryPeriodMs ?? 2_000;
    this.#onStartedLeading = o.onStartedLeading;
    this.#onStoppedLeading = o.onStoppedLeading;
    const log = o.log;
    this.#log = (msg, fields) => {
      try {
        log?.(msg, fields);
      } catch {
        // A failing logger must not break the election loop.
      }
    };
    if (!o.identity) throw new InvalidArgumentError("leader election: identity must not be empty");
    checkLeaderElectionTimes({
      leaseDurationMs: this.#leaseDurationMs,
      renewDeadlineMs: this.#renewDeadlineMs,
      retryPeriodMs: this.#retryPeriodMs,
    });
  }

  /** True while we hold the lease and our last successful renewal is within renewDeadline. */
  get isLeader(): boolean {
    return this.#leading && performance.now() < this.#leaderUntil;
  }

  /** Starts trying to acquire the lease (the first attempt runs at once). Idempotent. */
  start(): void {
    if (this.#stopped) throw new Error("leader election: a stopped elector cannot be restarted");
    if (this.#started) return;
    this.#started = true;
    this.#schedule(0);
  }

  /**
   * Stops trying; if we lead, calls onStoppedLeading first and then releases the lease
   * (empty holder, so a candidate can take it at its next attempt). Never rejects: a
   * failed release is logged and the lease simply expires.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    // An attempt in flight may still renew the lease; release after it, not before.
    await this.#inFlight;
    const held = this.#leading || this.#observedHolder === this.#identity;
    this.#stepDown("stopped");
    if (held) await this.#release();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#inFlight = this.#round().finally(() => {
        this.#inFlight = undefined;
      });
    }, delayMs);
    this.#retryTimer.unref();
  }

  async #round(): Promise<void> {
    const startedAt = performance.now();
    let outcome: Outcome;
    try {
      outcome = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#log("leader election: lease request failed", { lease: this.#leaseName(), error: errorText(err) });
      outcome = { kind: "error" };
    }
    if (this.#stopped) return;
    if (outcome.kind === "held") {
      // Our term runs from the start of the request that (re)wrote the lease.
      const until = startedAt + this.#renewDeadlineMs;
      if (until > performance.now()) this.#lead(until);
      else this.#log("leader election: renewal succeeded too late", { lease: this.#leaseName() });
    } else if (outcome.kind === "other" && this.#leading) {
      this.#stepDown(`lease is held by ${outcome.holder}`);
    }
    // While leading: renew every retryPeriod. Otherwise: jittered, so candidates spread out.
    this.#schedule(this.#leading ? this.#retryPeriodMs : this.#retryPeriodMs * (1 + Math.random() * JITTER));
  }

  #lead(until: number): void {
    this.#leaderUntil = until;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      this.#stepDown("renew deadline exceeded");
    }, until - performance.now());
    this.#deadlineTimer.unref();
    if (this.#leading) return;
    this.#leading = true;
    this.#log("leader election: started leading", { lease: this.#leaseName(), identity: this.#identity });
    this.#callback(this.#onStartedLeading, "onStartedLeading");
  }

  #stepDown(reason: string): void {
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#leaderUntil = 0;
    if (!this.#leading) return;
    this.#leading = false;
    this.#log("leader election: stopped leading", {
      lease: this.#leaseName(),
      identity: this.#identity,
      reason,
    });
    this.#callback(this.#onStoppedLeading, "onStoppedLeading");
  }

  #callback(fn: () => void, name: string): void {
    try {
      fn();
    } catch (err) {
      this.#log(`leader election: ${name} threw`, { lease: this.#leaseName(), error: errorText(err) });
    }
  }

  async #tryAcquireOrRenew(): Promise<Outcome> {
    // One immediate re-read on a write conflict: it may have been only a metadata edit.
    for (let attempt = 0; attempt < 2; attempt++) {
      let lease: Lease;
      try {
        lease = await this.#client.send<Lease>("GET", this.#path());
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        return await this.#create();
      }
      const spec = lease.spec ?? {};
      this.#observe(spec);
      const holder = spec.holderIdentity ?? "";
      const mine = holder === this.#identity;
      if (holder !== "" && !mine && this.#observedValid(spec)) return { kind: "other", holder };

      const now = microTime();
      const next: LeaseSpec = {
        ...spec,
        holderIdentity: this.#identity,
        leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
        renewTime: now,
        acquireTime: mine ? (spec.acquireTime ?? now) : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      if (!mine) this.#log("leader election: taking over lease", { lease: this.#leaseName(), from: holder });
      try {
        const updated = await this.#client.send<Lease>("PUT", this.#path(), { ...lease, spec: next });
        this.#observe(updated.spec ?? next);
        return { kind: "held" };
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409)) throw err;
        this.#log("leader election: lease changed under us", { lease: this.#leaseName() });
      }
    }
    return { kind: "other", holder: "(conflict)" };
  }

  async #create(): Promise<Outcome> {
    const now = microTime();
    const lease: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.#name, namespace: this.#namespace },
      spec: {
        holderIdentity: this.#identity,
        leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
    try {
      const created = await this.#client.send<Lease>(
        "POST",
        `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#namespace)}/leases`,
        lease,
      );
      this.#observe(created.spec ?? {});
      this.#log("leader election: created lease", { lease: this.#leaseName() });
      return { kind: "held" };
    } catch (err) {
      // Another candidate created it first; the next round reads it.
      if (err instanceof ApiError && err.status === 409) return { kind: "other", holder: "(creator)" };
      throw err;
    }
  }

  async #release(): Promise<void> {
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const lease = await this.#client.send<Lease>("GET", this.#path());
        const spec = lease.spec ?? {};
        if (spec.holderIdentity !== this.#identity) return;
        const now = microTime();
        const next: LeaseSpec = {
          ...spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        };
        try {
          await this.#client.send("PUT", this.#path(), { ...lease, spec: next });
          this.#observedHolder = "";
          this.#log("leader election: released lease", { lease: this.#leaseName() });
          return;
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
        }
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      this.#log("leader election: could not release lease", {
        lease: this.#leaseName(),
        error: errorText(err),
      });
    }
  }

  /** Restarts the expiry clock whenever the record changes (a renewal, a new holder). */
  #observe(spec: LeaseSpec): void {
    const record = JSON.stringify([
      spec.holderIdentity ?? "",
      spec.leaseDurationSeconds,
      spec.acquireTime,
      spec.renewTime,
      spec.leaseTransitions,
    ]);
    this.#observedHolder = spec.holderIdentity ?? "";
    if (record === this.#observedRecord) return;
    this.#observedRecord = record;
    this.#observedAt = performance.now();
  }

  /** The holder's own leaseDurationSeconds decides, counted from when we saw its last renewal. */
  #observedValid(spec: LeaseSpec): boolean {
    const seconds = spec.leaseDurationSeconds ?? Math.ceil(this.#leaseDurationMs / 1000);
    return performance.now() < this.#observedAt + seconds * 1000;
  }

  #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#namespace)}/leases/${encodeURIComponent(this.#name)}`;
  }

  #leaseName(): string {
    return `${this.#namespace}/${this.#name}`;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
