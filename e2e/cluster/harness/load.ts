// Steady load through the gateway Service while a scenario disturbs the cluster: a fixed
// request rate (open loop, so a slow moment shows as latency, not as fewer requests) over
// keep-alive connections, as a real client does. Every answer is recorded with the echo
// pod that served it, so a scenario can tell which pods got traffic and when.
// While it runs, the test must not block its event loop (execFileSync of kubectl or helm):
// the load would stall and its latencies lie. release.ts has async versions for that.
import { Agent, request } from "undici";

export interface Outcome {
  /** ms since the load started */
  at: number;
  ms: number;
  status: number;
  /** the echo backend pod that answered (echo-basic names itself), "" for gateway answers */
  pod: string;
  error?: string;
}

export interface LoadOptions {
  url: string;
  host: string;
  path?: string;
  ratePerSecond?: number;
  connections?: number;
}

export interface Load {
  readonly outcomes: Outcome[];
  /** Outcomes that are not a 2xx answer. */
  failures(): Outcome[];
  /** ms since start, for marking scenario steps */
  now(): number;
  stop(): Promise<Outcome[]>;
}

export function startLoad({
  url,
  host,
  path = "/",
  ratePerSecond = 100,
  connections = 8,
}: LoadOptions): Load {
  const agent = new Agent({ connections, keepAliveTimeout: 30_000 });
  const outcomes: Outcome[] = [];
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  const now = () => performance.now() - start;

  const one = async () => {
    const at = now();
    try {
      const res = await request(new URL(path, url), {
        dispatcher: agent,
        headers: { host },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await res.body.text();
      let pod = "";
      if (res.statusCode === 200) pod = (JSON.parse(text) as { pod?: string }).pod ?? "";
      outcomes.push({ at, ms: now() - at, status: res.statusCode, pod });
    } catch (err) {
      const e = err as Error & { code?: string };
      outcomes.push({ at, ms: now() - at, status: 0, pod: "", error: e.code ?? e.message });
    }
  };

  // Requests are started on a fixed schedule, whether earlier ones finished or not.
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor((now() * ratePerSecond) / 1000);
    for (; sent < due; sent++) {
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }, 5);

  let stopped: Promise<Outcome[]> | undefined;
  return {
    outcomes,
    now,
    failures: () => outcomes.filter((o) => o.status < 200 || o.status >= 300),
    // Idempotent: a test stops the load when it has what it measures, and `finally` again.
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all(inFlight);
        await agent.close();
        return outcomes;
      })();
      return stopped;
    },
  };
}

/** A one-line summary for the test log and the docs: counts, failures by kind, latency. */
export function summary(outcomes: Outcome[]): string {
  const failed = outcomes.filter((o) => o.status < 200 || o.status >= 300);
  const kinds = new Map<string, number>();
  for (const f of failed)
    kinds.set(f.error ?? String(f.status), (kinds.get(f.error ?? String(f.status)) ?? 0) + 1);
  const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]?.toFixed(1) ?? "-";
  const why = [...kinds].map(([k, n]) => `${k}×${n}`).join(", ");
  return `${outcomes.length} requests, ${failed.length} failed${why ? ` (${why})` : ""}, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`;
}
