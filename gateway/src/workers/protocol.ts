// What the primary and its workers say to each other over the cluster IPC channel
// (serialization "advanced": structured clone, so a snapshot crosses as it is). One message
// type per purpose, named by `t`; requests that need an answer carry an `id`.
import type { Snapshot } from "../../../core/api/snapshot/schema.ts";
import type { ApiKeyUsageEntry } from "../auth/api-key-usage.ts";
import type { GatewayConfig } from "../config.ts";
import type { LimitCheck, LimitDecision } from "../ratelimit/types.ts";

export interface StartMessage {
  t: "start";
  /** The primary's configuration, with this worker's listen port and per-process shares. */
  config: GatewayConfig;
  /** 0-based; restarted workers take the index of the one they replace. */
  index: number;
  /** How many workers share the pod: per-process limits are divided by it (worker-share.ts). */
  workers: number;
  logLevel: string;
  /** The snapshot to load before listening, when the primary has one. */
  snapshot?: { snapshot: Snapshot; source: string };
}

export type ToWorker =
  | StartMessage
  | { t: "snapshot"; snapshot: Snapshot; source: string }
  /** Answers to one `limits` request, in its order. */
  | { t: "limits"; id: number; decisions: LimitDecision[] }
  /** A brute-force block another worker found: refuse the key here too (auth/brute-force.ts). */
  | { t: "blocked"; key: string; untilMs: number }
  | { t: "log-level"; level: string }
  | { t: "ask"; id: number; what: "metrics" | "status" }
  /** SIGTERM reached the primary: drain as one process would, then exit 0. */
  | { t: "drain" };

export type FromWorker =
  /** The worker's program is loaded and hears messages: it can be sent its start now. */
  | { t: "hello" }
  | { t: "listening"; port: number }
  /** What the worker serves after a snapshot message (or its start), and what it refused. */
  | { t: "loaded"; serving: string | undefined; rejected?: { version: string | undefined; reason: string } }
  /** The rate-limit checks of one event-loop turn: one LimitCheck[] per request. */
  | { t: "limits"; id: number; requests: LimitCheck[][] }
  | { t: "blocked"; key: string; untilMs: number }
  | { t: "answer"; id: number; body: unknown }
  /** Cumulative API-key usage of this worker, for the replica report. */
  | { t: "usage"; entries: ApiKeyUsageEntry[] }
  /** The worker could not start (a bad TLS pair, a port in use); it exits next. */
  | { t: "failed"; code: string | undefined; message: string };

/** A worker's status, as /status lists it. */
export interface WorkerStatus {
  pid: number;
  serving: string | undefined;
  /** Open client connections: how the kernel spread them. */
  connections: number;
  pools: unknown[];
}
