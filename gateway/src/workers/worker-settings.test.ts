import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../config.ts";
import { cpuLimit, defaultWorkers } from "./cpu-limit.ts";
import { share, workerConfig } from "./worker-share.ts";

const files = (entries: Record<string, string>) => (path: string) => entries[path];

describe("the CPU limit", () => {
  it.each([
    ["cgroup v2, 2 cores", { "/sys/fs/cgroup/cpu.max": "200000 100000\n" }, 2],
    ["cgroup v2, 1500m", { "/sys/fs/cgroup/cpu.max": "150000 100000\n" }, 1.5],
    ["cgroup v2, none", { "/sys/fs/cgroup/cpu.max": "max 100000\n" }, undefined],
    [
      "cgroup v1, 500m",
      {
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000\n",
        "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
      },
      0.5,
    ],
    [
      "cgroup v1, none",
      { "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n" },
      undefined,
    ],
    [
      "cgroup v1, cpu,cpuacct",
      {
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "300000",
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000",
      },
      3,
    ],
    ["no cgroup files", {}, undefined],
  ])("%s", (_, entries, cores) => {
    expect(cpuLimit(files(entries))).toBe(cores);
  });

  it.each([
    [undefined, 8, 1],
    [2, 8, 2],
    [1.5, 8, 2],
    [0.25, 8, 1],
    [4, 2, 2], // a limit above the node's cores buys nothing
    [200, 256, 64],
  ])("limit %s on %s cores: %s workers", (limit, cores, workers) => {
    expect(defaultWorkers(limit, cores)).toBe(workers);
  });
});

describe("--workers", () => {
  const load = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    loadGatewayConfig(["--config-dir", "/d", ...argv], env);

  it("is read from the flag or SLUICE_WORKERS, the flag first", () => {
    expect(load(["--workers", "4"]).workers).toBe(4);
    expect(load([], { SLUICE_WORKERS: "3" }).workers).toBe(3);
    expect(load(["--workers", "2"], { SLUICE_WORKERS: "3" }).workers).toBe(2);
    expect(load([]).workers).toBeUndefined();
  });

  it.each(["0", "65", "1.5", "two"])("refuses %s, naming the flag", (value) => {
    expect(() => load(["--workers", value])).toThrow(
      /^SLUICE_CONFIG_INVALID: --workers \(SLUICE_WORKERS\): /,
    );
  });
});

describe("a worker's share of per-process limits", () => {
  it.each([
    [1024, 2, 512],
    [3, 2, 1],
    [1, 4, 1], // a worker cannot serve with 0
    [0, 4, 0], // 0: no limit
  ])("%s over %s workers: %s each", (limit, workers, each) => {
    expect(share(limit, workers)).toBe(each);
  });

  it("divides --max-requests-per-client", () => {
    const config = loadGatewayConfig(["--config-dir", "/d", "--max-requests-per-client", "256"], {});
    expect(workerConfig(config, 4).maxRequestsPerClient).toBe(64);
  });
});
