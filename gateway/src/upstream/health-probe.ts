// One active health check: GET the path over one endpoint's connections and tell whether a
// 2xx came back, body and all, within the timeout. It goes through dispatch() with a handler
// of its own, the one interface every undici dispatcher has: request() and the other
// convenience methods are put on the dispatchers' prototype by undici's index, which the
// gateway does not load (backend-pool.ts).
import type { Dispatcher } from "undici";

const HEADERS = { "user-agent": "sluice-health-check" };

export function probe(dispatcher: Dispatcher, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let status = 0;
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      controller?.abort(new Error("health check timed out"));
      settle(false);
    }, timeoutMs);
    timer.unref();
    try {
      dispatcher.dispatch(
        { path, method: "GET", headers: HEADERS },
        {
          onRequestStart(c) {
            controller = c;
            if (settled) c.abort(new Error("health check timed out"));
          },
          onResponseStart(_c, statusCode) {
            status = statusCode;
          },
          // The body is read to its end (and dropped) so that the connection can be reused.
          onResponseData() {},
          onResponseEnd() {
            settle(status >= 200 && status < 300);
          },
          onResponseError() {
            settle(false);
          },
        },
      );
    } catch {
      settle(false);
    }
  });
}
