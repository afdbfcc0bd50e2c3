// /metrics of a pod with workers: the primary's registry (snapshot loads, worker restarts)
// and every worker's, combined by prom-client's AggregatorRegistry.aggregate — counters and
// histograms summed, gauges by their `aggregator` (gateway-metrics.ts).
// Not AggregatorRegistry#clusterMetrics: it leaves out the primary's own registry, and one
// worker that exits mid-scrape fails the whole scrape after 5 s. Here the workers are asked
// over the channel they already use (supervisor.ts) and one that does not answer in time
// is left out of that scrape.
// A restarted worker starts its counters at 0; a sum that went down would read as a
// counter reset and make rate() jump. So the counters and histograms a worker reported last
// stay in the sum after it exits (`retired`): the totals only grow.
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Supervisor, WorkerState } from "./supervisor.ts";

type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;
/** What only grows; prom-client's typings call the type an enum, the JSON holds its name. */
const cumulative = (m: MetricsJson[number]) => ["counter", "histogram"].includes(m.type as unknown as string);

export class ClusterMetrics {
  readonly #own: Registry;
  readonly #supervisor: Supervisor;
  /** Each live worker's last answer, by pid. */
  readonly #last = new Map<number, MetricsJson>();
  #retired: MetricsJson = [];

  constructor(own: Registry, supervisor: Supervisor) {
    this.#own = own;
    this.#supervisor = supervisor;
  }

  get contentType(): string {
    return this.#own.contentType;
  }

  async metrics(): Promise<string> {
    const [own, answers] = await Promise.all([this.#own.getMetricsAsJSON(), this.#supervisor.ask("metrics")]);
    const workers = answers.map(({ state, body }) => {
      this.#last.set(state.pid, body as MetricsJson);
      return body as MetricsJson;
    });
    return AggregatorRegistry.aggregate([own, this.#retired, ...workers]).metrics();
  }

  /** A worker exited: what it counted stays in the totals, what it measured (gauges) goes. */
  async retire(worker: WorkerState): Promise<void> {
    const last = this.#last.get(worker.pid);
    this.#last.delete(worker.pid);
    if (!last) return;
    this.#retired = await AggregatorRegistry.aggregate([
      this.#retired,
      last.filter(cumulative),
    ]).getMetricsAsJSON();
  }
}
