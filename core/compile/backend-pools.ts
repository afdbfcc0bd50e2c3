// BackendPools → snapshot pools, with Service-backed pools resolved through the
// Service's ports and its EndpointSlices (ready endpoints only).
import ipaddr from "ipaddr.js";
import type { BackendPoolSpec } from "../api/backend-pool.ts";
import type { KubeObject } from "../api/common.ts";
import type { SnapshotPool } from "../api/snapshot/schema.ts";
import { durationMs } from "./durations.ts";
import type { LastGood } from "./last-good.ts";
import type { ObjectIndex } from "./object-index.ts";
import { poolTls } from "./pool-tls.ts";
import { Reason } from "./reasons.ts";
import { cmp, namespaceOf, type StatusBook } from "./status-book.ts";

interface ServiceSpec {
  ports?: { name?: string; port?: number }[];
}
interface EndpointSlice {
  addressType?: string;
  ports?: { name?: string | null; port?: number }[];
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean | null } }[];
}

type Endpoint = SnapshotPool["endpoints"][number];

function list<T>(value: T[] | undefined | null): (T | null | undefined)[] {
  return Array.isArray(value) ? value : [];
}
type Resolution = { endpoints: Endpoint[] } | { problem: Reason; message: string };

function serviceEndpoints(
  index: ObjectIndex,
  namespace: string,
  svc: { name: string; port: number },
): Resolution {
  const service = index.get<ServiceSpec>("Service", namespace, svc.name);
  if (!service) {
    return {
      problem: Reason.ServiceNotFound,
      message: `spec.service.name: Service "${svc.name}" not found in namespace "${namespace}"`,
    };
  }
  // Core objects are not schema-checked here: read them defensively.
  const port = list(service.spec?.ports).find((p) => p?.port === svc.port);
  if (!port) {
    return {
      problem: Reason.PortNotFound,
      message: `spec.service.port: Service "${svc.name}" has no port ${svc.port}`,
    };
  }
  const portName = typeof port.name === "string" ? port.name : "";
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  for (const slice of index.endpointSlicesOf(namespace, svc.name) as unknown as EndpointSlice[]) {
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const target = list(slice.ports).find((p) => (p?.name ?? "") === portName)?.port;
    if (typeof target !== "number") continue;
    for (const ep of list(slice.endpoints)) {
      if (ep?.conditions?.ready === false) continue;
      for (const address of list(ep?.addresses)) {
        if (typeof address !== "string" || !ipaddr.isValid(address) || seen.has(`${address}:${target}`))
          continue;
        seen.add(`${address}:${target}`);
        endpoints.push({ address, port: target, weight: 1 });
      }
    }
  }
  return { endpoints };
}

function hashOn(spec: BackendPoolSpec): SnapshotPool["loadBalancing"]["hashOn"] {
  const ch = spec.loadBalancing?.consistentHash;
  if (!ch) return undefined;
  if (ch.header) return { header: ch.header.toLowerCase() };
  if (ch.cookie)
    return {
      cookie: { name: ch.cookie.name, ...(ch.cookie.ttl ? { ttlMs: durationMs(ch.cookie.ttl) } : {}) },
    };
  return { sourceIP: true };
}

function toPool(
  id: string,
  spec: Required<Pick<BackendPoolSpec, "loadBalancing" | "circuitBreaker" | "connection">> & BackendPoolSpec,
  endpoints: Endpoint[],
): SnapshotPool {
  const { active, passive } = spec.healthCheck ?? {};
  return {
    id,
    endpoints: endpoints.sort((a, b) => cmp(a.address, b.address) || a.port - b.port),
    loadBalancing: {
      algorithm: spec.loadBalancing.algorithm,
      ...(hashOn(spec) ? { hashOn: hashOn(spec) } : {}),
    },
    healthCheck: {
      ...(active && {
        active: {
          path: active.path,
          intervalMs: durationMs(active.interval),
          timeoutMs: durationMs(active.timeout),
          healthyThreshold: active.healthyThreshold,
          unhealthyThreshold: active.unhealthyThreshold,
        },
      }),
      ...(passive && {
        passive: {
          consecutiveErrors: passive.consecutiveErrors,
          baseEjectionMs: durationMs(passive.baseEjectionTime),
          maxEjectionPercent: passive.maxEjectionPercent,
        },
      }),
    },
    circuitBreaker: { ...spec.circuitBreaker },
    connection: {
      connectTimeoutMs: durationMs(spec.connection.connectTimeout),
      idleTimeoutMs: durationMs(spec.connection.idleTimeout),
      http2: spec.connection.http2,
    },
  };
}

/** Compiles every accepted BackendPool; returns them by id ("namespace/name"). */
/**
 * An invalid pool that was served before keeps its last good version (endpoints as they
 * were then), so the routes that use it keep working instead of answering 500.
 */
function keepLastGood(
  obj: KubeObject,
  status: StatusBook,
  lastGood: LastGood,
  pools: Map<string, SnapshotPool>,
) {
  const kept = lastGood.pool(obj);
  if (!kept) return;
  pools.set(kept.id, kept);
  status.servingLastGood(obj, lastGood.generation(obj));
}

export function compileBackendPools(
  index: ObjectIndex,
  status: StatusBook,
  lastGood: LastGood,
): Map<string, SnapshotPool> {
  const pools = new Map<string, SnapshotPool>();
  for (const obj of index.rejected("BackendPool")) keepLastGood(obj, status, lastGood, pools);
  for (const obj of index.list<BackendPoolSpec>("BackendPool")) {
    const spec = obj.spec as Parameters<typeof toPool>[1];
    const namespace = namespaceOf(obj);
    const id = `${namespace}/${obj.metadata.name}`;
    const invalid = (spec.endpoints ?? []).findIndex((e) => !ipaddr.isValid(e.address));
    if (invalid >= 0) {
      status.invalid(
        obj,
        `spec.endpoints[${invalid}].address: "${spec.endpoints?.[invalid]?.address}" is not an IP address`,
      );
      keepLastGood(obj, status, lastGood, pools);
      continue;
    }
    const resolution: Resolution = spec.service
      ? serviceEndpoints(index, namespace, spec.service)
      : {
          endpoints: (spec.endpoints ?? []).map((e) => ({
            address: ipaddr.parse(e.address).toString(),
            port: e.port,
            weight: e.weight ?? 1,
          })),
        };
    status.set(obj, "Accepted", true, Reason.Accepted, "The pool is valid.");
    status.served(obj);
    // A pool whose CA cannot be read gets no endpoints: its traffic fails, never in cleartext.
    const tls = poolTls(index, namespace, spec.tls);
    const resolved = "problem" in tls ? tls : resolution;
    accept(obj, status, resolved);
    const endpoints = "endpoints" in resolved ? resolved.endpoints : [];
    status.setReadyEndpoints(obj, endpoints.length);
    pools.set(id, { ...toPool(id, spec, endpoints), ...("problem" in tls ? {} : tls) });
  }
  return pools;
}

function accept(obj: KubeObject, status: StatusBook, resolution: Resolution) {
  if ("problem" in resolution) {
    status.set(
      obj,
      "ResolvedRefs",
      false,
      resolution.problem,
      `${resolution.message}; the pool has no endpoints, so its traffic gets 503.`,
    );
  } else {
    const n = resolution.endpoints.length;
    status.set(obj, "ResolvedRefs", true, Reason.ResolvedRefs, `${n} endpoint${n === 1 ? "" : "s"}.`);
  }
}
