// Problem types (RFC 9457) of the rate limiter: the entries of ../problem.ts's registry.
import { Problem } from "../problem.ts";

export const RateLimitProblem = {
  QuotaExceeded: Problem.QuotaExceeded,
  LimiterUnavailable: Problem.LimiterUnavailable,
} as const;
