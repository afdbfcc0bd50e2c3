// Bounds a store call: the caller gets an answer (or a StoreTimeoutError) within `ms`, whatever
// the connection does. The abandoned promise is kept from becoming an unhandled rejection.
export class StoreTimeoutError extends Error {
  readonly code = "SLUICE_RATELIMIT_TIMEOUT";
  constructor(ms: number) {
    super(`rate-limit store did not answer within ${ms} ms`);
    this.name = "StoreTimeoutError";
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
