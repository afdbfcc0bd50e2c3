// Loaded into a process under measurement with `--import` (NODE_OPTIONS), it writes
// process.memoryUsage() and V8's heap spaces, in MB, as JSON to $PROBE_OUT when the process
// gets SIGUSR2 — after a full garbage collection when $PROBE_OUT.gc holds "1". Nothing runs
// otherwise: no timer, no allocation between samples.
// JavaScript, not TypeScript: a .ts probe would make Node load its type stripper into the
// very process whose memory is measured (the gateway runs built JavaScript, as in the image).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const out = process.env.PROBE_OUT;
if (out) {
  // --expose-gc set at run time: gc() is then defined in contexts made afterwards.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc");
  process.on("SIGUSR2", () => {
    let full = false;
    try {
      full = readFileSync(`${out}.gc`, "utf8").trim() === "1";
    } catch {}
    if (full) gc();
    const m = process.memoryUsage();
    const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
    const sample = {
      rss: mb(m.rss),
      heapTotal: mb(m.heapTotal),
      heapUsed: mb(m.heapUsed),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
      /** Each V8 heap space as allocated (new_space, old_space, code_space, …). */
      spaces: Object.fromEntries(getHeapSpaceStatistics().map((h) => [h.space_name, mb(h.space_size)])),
    };
    // Written aside and renamed: the reader never sees half a line.
    writeFileSync(`${out}.tmp`, JSON.stringify(sample));
    renameSync(`${out}.tmp`, out);
  });
}
