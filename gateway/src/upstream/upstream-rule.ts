// What the upstream stage reads of a route rule: how to pick a backend, the timeouts and
// retries, and the response filters applied on the way back. runtime/rule-runtime.ts
// builds rules that are this and more; the upstream stage never needs the rest.
import type { CorsRuntime } from "../filters/cors.ts";
import type { HeaderOps } from "../filters/headers.ts";
import type { BackendPoolRuntime } from "./backend-pool.ts";

/** One weighted backendRef; pool undefined when it did not resolve (its share gets 500). */
export interface BackendChoice {
  key: string;
  weight: number;
  inflight: number;
  healthy: boolean;
  pool: BackendPoolRuntime | undefined;
}

export interface UpstreamRule {
  /** "namespace/name" of the GatewayRoute, for metrics and logs. */
  route: string;
  responseHeaders: HeaderOps | undefined;
  cors: CorsRuntime | undefined;
  /** Picks the backendRef for a request (smooth weighted round-robin over weights). */
  pickBackend(): BackendChoice | undefined;
  requestTimeoutMs: number | undefined;
  backendTimeoutMs: number | undefined;
  retry: { attempts: number; on: ReadonlySet<string>; baseMs: number; maxMs: number } | undefined;
}
