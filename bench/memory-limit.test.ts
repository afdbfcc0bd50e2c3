import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/harness/install.ts";
import { chartMemoryLimitMiB, underMemoryLimit } from "./memory-limit.ts";

describe("the bench's memory limit", () => {
  it("is the chart's limit for the component, in MiB", () => {
    expect(chartMemoryLimitMiB(ROOT, "operator")).toBe(512);
    expect(chartMemoryLimitMiB(ROOT, "gateway")).toBe(1024);
  });

  it("wraps the command so that it enters the cgroup, then becomes the command", () => {
    let limit: ReturnType<typeof underMemoryLimit> | undefined;
    try {
      limit = underMemoryLimit(64, `sluice-bench-test-${process.pid}`);
    } catch (err) {
      // Not root (or no memory controller): the bench says so rather than run unlimited.
      expect(String(err)).toMatch(/could not be made/);
      return;
    }
    try {
      const command = [...limit.prefix, "node", "cli/sluice.js", "operator"];
      expect(command.slice(0, 2)).toEqual(["sh", "-c"]);
      expect(command[2]).toMatch(/^echo \$\$ > \/sys\/fs\/cgroup\/.*cgroup\.procs && exec "\$@"$/);
      expect(command.slice(3)).toEqual(["sh", "node", "cli/sluice.js", "operator"]);
      expect(limit.describe).toMatch(/^64 MiB/);
    } finally {
      limit.remove();
    }
  });
});
