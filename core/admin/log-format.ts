// One log format for both processes (docs/observability.md, "Logs"): every line is one JSON
// object that starts
//   {"level":"info","time":"2026-11-22T05:40:00.000Z", …
// — the level as its name, the time as ISO-8601 UTC with milliseconds — and holds each key
// once. The gateway's access line (gateway/src/observability/access-line.ts) is written by
// hand in the same format.
//
// Why names and ISO strings: they are what log pipelines read without configuration
// (Elasticsearch and OpenSearch map an ISO `time` as a date, epoch milliseconds as a number;
// Loki, Fluent Bit and Vector filter on `level="error"` with no mapping table), and a person
// reading `kubectl logs` can too. pino's own default (30, epoch ms) needs both translated.
//
// Why no duplicate keys: JSON parsers disagree on them (most keep the last, some refuse the
// line: Elasticsearch's does, and it drops it). pino writes its base fields, a child's
// bindings and the caller's fields one after the other without looking, so a caller's `name`
// next to pino's `name` made two. The process's name is therefore `logger`, not `name` (an
// object's name is what the operator logs most), and a caller's field named like a key the
// line already has is written with a `_` appended (`time_`), which a test checks.
import { hostname } from "node:os";
import { type DestinationStream, type Logger, type LoggerOptions, pino, stdTimeFunctions } from "pino";

export type ProcessName = "sluice-gateway" | "sluice-operator";

/**
 * The logger of a process: `fields` are on every line (e.g. a worker's index), after pid,
 * hostname and `logger`. Written to `stream`, or synchronously to stdout.
 */
export function createLogger(
  logger: ProcessName,
  level: string,
  { stream, fields = {} }: { stream?: DestinationStream; fields?: Record<string, unknown> } = {},
): Logger {
  return stream ? pino(logOptions(logger, level, fields), stream) : pino(logOptions(logger, level, fields));
}

/** pino's options for the format; `createLogger` is the one place that uses them. */
export function logOptions(
  logger: ProcessName,
  level: string,
  fields: Record<string, unknown> = {},
): LoggerOptions {
  const base = { pid: process.pid, hostname: hostname(), logger, ...fields };
  const taken = new Set(["level", "time", "msg", ...Object.keys(base)]);
  return {
    level,
    base,
    messageKey: "msg",
    timestamp: stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => distinctKeys(object, taken),
    },
  };
}

/** `object` with each key the line already has renamed (`key_`, `key__`, …); itself if none. */
function distinctKeys(object: Record<string, unknown>, taken: ReadonlySet<string>): Record<string, unknown> {
  let clash = false;
  for (const key in object)
    if (taken.has(key)) {
      clash = true;
      break;
    }
  if (!clash) return object;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    let k = key;
    while (taken.has(k) || k in out) k += "_";
    out[k] = value;
  }
  return out;
}
