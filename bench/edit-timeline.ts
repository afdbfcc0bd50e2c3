// Where the time of one edit went, read from the processes' JSON log lines (`time` as
// ISO-8601 with milliseconds, core/admin/log-format.ts — older logs: ms since the epoch —
// the same clock on one machine): the operator's "compiled" and
// "snapshot published" lines and each replica's "snapshot loaded" line name the snapshot
// version they are about.

export interface LogLine {
  time: number;
  msg: string;
  version?: string;
  compileMs?: number;
}

export interface EditTimeline {
  version: string;
  /** When the operator finished compiling that version, and how long the compile took. */
  compiledAt: number | undefined;
  compileMs: number | undefined;
  publishedAt: number;
  /** Per replica, when it loaded the version (undefined: no such line). */
  loadedAt: (number | undefined)[];
}

/** Parses the JSON lines of a log, skipping what is not JSON (a stack trace, a blank line). */
export function logLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const j = JSON.parse(line) as Omit<Partial<LogLine>, "time"> & { time?: unknown };
      const time = typeof j.time === "string" ? Date.parse(j.time) : j.time;
      if (typeof time === "number" && !Number.isNaN(time) && typeof j.msg === "string")
        lines.push({ ...j, time } as LogLine);
    } catch {}
  }
  return lines;
}

/**
 * The first snapshot the operator published at or after `storedAt` (the edit stored), with
 * the compile that made it and each replica's load of it; undefined when none was published.
 */
export function editTimeline(
  storedAt: number,
  operator: readonly LogLine[],
  replicas: readonly (readonly LogLine[])[],
): EditTimeline | undefined {
  const published = operator.find((l) => l.msg === "snapshot published" && l.time >= storedAt);
  if (!published?.version) return undefined;
  const version = published.version;
  const compiled = operator.findLast(
    (l) => l.msg === "compiled" && l.version === version && l.time <= published.time,
  );
  return {
    version,
    compiledAt: compiled?.time,
    compileMs: compiled?.compileMs,
    publishedAt: published.time,
    loadedAt: replicas.map(
      (lines) => lines.find((l) => l.msg === "snapshot loaded" && l.version === version)?.time,
    ),
  };
}

/** The nearest-rank percentile (p in 0–100) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}
