// Bounds a store call: the caller gets an answer (or a RateLimitTimeoutError, code SLUICE_RATELIMIT_TIMEOUT) within `ms`, whatever
// the connection does. The abandoned promise is kept from becoming an unhandled rejection.
import { RateLimitTimeoutError } from "../../../core/api/errors.ts";

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RateLimitTimeoutError(ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
