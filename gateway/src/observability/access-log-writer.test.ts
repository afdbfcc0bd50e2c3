import { once } from "node:events";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AccessLogWriter, type BufferDestination } from "./access-log-writer.ts";
import { RequestRecord } from "./request-record.ts";

/** A record whose line shows `path`; the writer's lines are checked by their paths. */
function withPath(path: string): RequestRecord {
  const r = new RequestRecord("GET", undefined, undefined);
  r.path = path;
  return r;
}
const pathsOf = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l).path as string);

/** Keeps every chunk handed over, as the real destination would write them in order. */
function collector() {
  const chunks: Buffer[] = [];
  const dest: BufferDestination = {
    // The writer must not reuse a chunk it handed over: copy nothing, so reuse would show.
    write: (chunk) => chunks.push(chunk),
    flush: () => {},
    end: () => {},
    once: () => dest,
  };
  return { dest, text: () => Buffer.concat(chunks).toString("utf8"), chunks };
}

describe("AccessLogWriter", () => {
  it("writes every line whole and in order across many chunks, multi-byte text included", () => {
    const out = collector();
    const writer = new AccessLogWriter(out.dest);
    const paths = Array.from({ length: 5000 }, (_, i) => `/ä/€/😀/${i}/${"x".repeat(i % 97)}`);
    for (const path of paths) writer.record(withPath(path), undefined);
    writer.flush();
    expect(out.chunks.length).toBeGreaterThan(5);
    expect(out.chunks.every((c) => c.length <= 64 * 1024)).toBe(true);
    expect(out.chunks.every((c) => c.at(-1) === 0x0a)).toBe(true);
    expect(pathsOf(out.text())).toEqual(paths);
  });

  it("holds lines until a flush, and a line longer than a chunk still goes out whole and in order", () => {
    const out = collector();
    const writer = new AccessLogWriter(out.dest);
    writer.record(withPath("/a"), undefined);
    expect(out.text()).toBe("");
    const long = `/${"y".repeat(100_000)}`;
    writer.record(withPath(long), undefined);
    writer.record(withPath("/b"), undefined);
    writer.flush();
    expect(pathsOf(out.text())).toEqual(["/a", long, "/b"]);
  });

  it("through a real pino destination, the file holds exactly the lines written once closed", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "sluice-log-")), "access.log");
    const dest = pino.destination({ dest: file, sync: false, contentMode: "buffer", maxWrite: 65536 });
    await once(dest, "ready");
    const writer = new AccessLogWriter(dest as unknown as BufferDestination);
    const paths = Array.from({ length: 3000 }, (_, i) => `/${i}/✓`);
    for (const path of paths) writer.record(withPath(path), undefined);
    await writer.close();
    expect(pathsOf(readFileSync(file, "utf8"))).toEqual(paths);
  });
});
