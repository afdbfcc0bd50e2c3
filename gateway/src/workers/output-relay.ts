// Workers' stdout (access-log lines, logs) reaches the pod's stdout through the primary.
// Each worker's access log is written in 64 KiB chunks that a pipe may split anywhere; N
// processes writing to one pipe would interleave their halves of lines. So each worker
// writes to a pipe of its own, and the primary passes on whole lines only, through one
// asynchronous writer that its own log shares: nothing else writes to fd 1.
import type { Readable } from "node:stream";
import { pino } from "pino";

/** Most bytes that may wait for a slow stdout before output is dropped (as the workers' own bound). */
const MAX_WAITING = 16 * 1024 * 1024;

export interface Output {
  /** For the primary's logger: pino writes its lines here. */
  readonly stream: { write(line: string): unknown };
  /** Passes on a worker's stdout, line by line; a partial last line is dropped with the worker. */
  relay(from: Readable): void;
  /** Writes what waits (bounded: a stdout nobody reads must not hold the exit). */
  close(): Promise<void>;
}

export function stdoutRelay(onDrop: (bytes: number) => void): Output {
  const dest = pino.destination({ dest: 1, sync: false, maxLength: MAX_WAITING });
  dest.on("drop", (data: string) => onDrop(Buffer.byteLength(data)));
  return {
    stream: dest,
    relay(from) {
      let partial: Buffer | undefined;
      from.on("data", (chunk: Buffer) => {
        const end = chunk.lastIndexOf(10);
        if (end === -1) {
          partial = partial ? Buffer.concat([partial, chunk]) : chunk;
          return;
        }
        const lines = partial
          ? Buffer.concat([partial, chunk.subarray(0, end + 1)])
          : chunk.subarray(0, end + 1);
        partial = end + 1 < chunk.length ? chunk.subarray(end + 1) : undefined;
        dest.write(lines.toString("utf8"));
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        timer.unref();
        dest.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        dest.end();
      }),
  };
}
