// The primary's own metrics about its workers, in its registry next to the snapshot metrics
// (gateway-metrics.ts): how many listen, and how often one had to be restarted.
import { Counter, Gauge, type Registry } from "prom-client";

export class WorkerMetrics {
  readonly #restarts: Counter;

  constructor(registry: Registry, listening: () => number, configured: number) {
    new Gauge({
      name: "sluice_workers",
      help: "Gateway worker processes of this pod, by state (configured: --workers; listening: serving now).",
      labelNames: ["state"] as const,
      registers: [registry],
      collect() {
        this.set({ state: "configured" }, configured);
        this.set({ state: "listening" }, listening());
      },
    });
    this.#restarts = new Counter({
      name: "sluice_worker_restarts_total",
      help: "Gateway workers that exited unasked and were started again.",
      registers: [registry],
    });
  }

  restarted(): void {
    this.#restarts.inc();
  }
}
