import { once } from "node:events";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AccessLogWriter, type BufferDestination } from "./access-log-writer.ts";

/** Keeps every chunk handed over, as the real destination would write them in order. */
function collector() {
  const chunks: Buffer[] = [];
  const dest: BufferDestination = {
    // The writer must not reuse a chunk it handed over: copy nothing, so reuse would show.
    write: (chunk) => chunks.push(chunk),
    flush: () => {},
    flushSync: () => {},
  };
  return { dest, text: () => Buffer.concat(chunks).toString("utf8"), chunks };
}

describe("AccessLogWriter", () => {
  it("writes every line whole and in order across many chunks, multi-byte text included", () => {
    const out = collector();
    const writer = new AccessLogWriter(out.dest);
    const lines = Array.from(
      { length: 5000 },
      (_, i) => `{"n":${i},"path":"/ä/€/😀/${"x".repeat(i % 97)}"}\n`,
    );
    for (const line of lines) writer.write(line);
    writer.flush();
    expect(out.chunks.length).toBeGreaterThan(5);
    expect(out.chunks.every((c) => c.length <= 64 * 1024)).toBe(true);
    expect(out.text()).toBe(lines.join(""));
  });

  it("holds lines until a flush, and a line longer than a chunk still goes out whole and in order", () => {
    const out = collector();
    const writer = new AccessLogWriter(out.dest);
    writer.write("a\n");
    expect(out.text()).toBe("");
    const long = `${"y".repeat(100_000)}\n`;
    writer.write(long);
    writer.write("b\n");
    writer.flushSync();
    expect(out.text()).toBe(`a\n${long}b\n`);
  });

  it("through a real pino destination, the file holds exactly the lines written", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "sluice-log-")), "access.log");
    const dest = pino.destination({ dest: file, sync: false, contentMode: "buffer", maxWrite: 65536 });
    await once(dest, "ready");
    const writer = new AccessLogWriter(dest as unknown as BufferDestination);
    const lines = Array.from({ length: 3000 }, (_, i) => `{"n":${i},"msg":"access ✓"}\n`);
    for (const line of lines) writer.write(line);
    writer.flushSync();
    expect(readFileSync(file, "utf8")).toBe(lines.join(""));
  });
});
