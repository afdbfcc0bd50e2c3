// prom-client's default metrics (process_* and nodejs_*: CPU, memory, file descriptors, event
// loop lag, heap, GC) for the gateway's and the operator's registries.
//
// Collected once per process and registered in every registry that asks: each collection
// starts an event-loop-delay monitor and a GC observer that are never stopped, and tests build
// many registries in one process. None of it runs per request: the values are read at scrape.
//
// With --workers the primary sums its registry and every worker's (prom-client's
// AggregatorRegistry, gateway/src/workers/cluster-metrics.ts), so /metrics describes the pod.
// Summing is right for CPU, memory, heap, handles and GC (the pod's totals; a retired worker's
// CPU and GC stay in them, so the counters never go down), not for the rest: prom-client
// leaves process_start_time_seconds out ("omit") and averages the event-loop lag, which hides
// the one worker that is stuck. AGGREGATORS says how those combine instead.
import { collectDefaultMetrics, type Metric, Registry } from "prom-client";

/** How a metric combines over the processes of a pod, where prom-client's own choice is wrong. */
export const AGGREGATORS: Readonly<Record<string, "min" | "max">> = {
  // When the pod started: the primary's start (a worker's restart is sluice_worker_restarts_total).
  process_start_time_seconds: "min",
  // A limit is each process's, not the pod's: with open fds as the fullest process's, the
  // ratio open / max is the fullest process's, the one that would fail first.
  process_max_fds: "min",
  process_open_fds: "max",
  // The slowest event loop is what its requests feel.
  nodejs_eventloop_lag_seconds: "max",
  nodejs_eventloop_lag_mean_seconds: "max",
  nodejs_eventloop_lag_stddev_seconds: "max",
  nodejs_eventloop_lag_p50_seconds: "max",
  nodejs_eventloop_lag_p90_seconds: "max",
  nodejs_eventloop_lag_p99_seconds: "max",
};

let shared: Registry | undefined;

/** Adds this process's process_* and nodejs_* metrics to `registry`. */
export function addProcessMetrics(registry: Registry): void {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
    for (const [name, aggregator] of Object.entries(AGGREGATORS)) {
      // prom-client reads `aggregator` off the metric when it writes the JSON workers send.
      const metric = shared.getSingleMetric(name) as { aggregator?: string } | undefined;
      if (metric) metric.aggregator = aggregator;
    }
  }
  // getMetricsAsArray's type is the metrics' JSON shape; the values are the Metric objects.
  for (const metric of shared.getMetricsAsArray()) registry.registerMetric(metric as unknown as Metric);
}
