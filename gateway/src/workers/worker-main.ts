// The program a --workers worker runs (forked by supervisor.ts): it waits for its start
// message, runs worker.ts, and then does what the primary says. Signals are the primary's
// to act on: a Ctrl-C reaches the whole process group, and a worker that drained on its own
// would look to the primary like one that crashed.
import { createLogger } from "../../../core/admin/log-format.ts";
import { hasCode } from "../../../core/api/errors.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { startWorker } from "./worker.ts";

const send = (m: FromWorker) => {
  if (process.connected) process.send?.(m, undefined, undefined, () => {});
};
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => {});

let handle: ((m: ToWorker) => void) | undefined;
/** What arrives while the worker starts (a new snapshot, a drain) is handled once it has. */
const early: ToWorker[] = [];

process.on("message", (m: ToWorker) => {
  if (m.t !== "start") {
    if (handle) handle(m);
    else early.push(m);
    return;
  }
  const log = createLogger("sluice-gateway", m.logLevel, { fields: { worker: m.index } });
  startWorker(m, send, log).then(
    (h) => {
      handle = h;
      for (const e of early.splice(0)) h(e);
    },
    (err: Error) => {
      // Said to the primary, which reports it (a port in use, a TLS pair that does not load).
      const code = hasCode(err, "SLUICE_CONFIG_INVALID") ? "SLUICE_CONFIG_INVALID" : undefined;
      process.send?.(
        { t: "failed", code, message: err.message } satisfies FromWorker,
        undefined,
        undefined,
        () => process.exit(2),
      );
    },
  );
});
send({ t: "hello" });
