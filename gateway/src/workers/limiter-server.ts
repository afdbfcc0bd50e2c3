// The primary's side of the pod's one in-memory rate-limit state: it answers each worker's
// turn of checks (ipc-limiter.ts) with its own MemoryLimiter, in arrival order, so the
// limits hold across workers as they hold within one process. Not used with Redis, where
// every worker talks to the shared store itself.
import type { Limiter } from "../ratelimit/types.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

type LimitsRequest = Extract<FromWorker, { t: "limits" }>;

export function answerLimits(limiter: Limiter, request: LimitsRequest, reply: (m: ToWorker) => void): void {
  // MemoryLimiter.check is synchronous underneath: each request is checked and consumed
  // before the next, which is what makes two workers' requests for one key exact.
  void Promise.all(request.requests.map((checks) => limiter.check(checks))).then((decisions) =>
    reply({ t: "limits", id: request.id, decisions }),
  );
}
