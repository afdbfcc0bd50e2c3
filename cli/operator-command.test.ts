// `sluice operator` checks every flag before it starts anything, and a bad one is a usage
// error (message, usage, exit 2) as for `sluice gateway`, not a stack trace.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigInvalidError } from "../core/api/errors.ts";
import { operatorSettings } from "./operator-command.ts";

const SLUICE = join(import.meta.dirname, "sluice.ts");

describe("operatorSettings", () => {
  it("has the documented defaults", () => {
    const s = operatorSettings([], { POD_NAMESPACE: "ns" });
    expect(s).toMatchObject({
      namespace: "ns",
      snapshotSecret: "sluice-snapshot",
      leaseName: "sluice-operator",
      debounceMs: 100,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      usageIntervalMs: 60_000,
      admin: { host: "127.0.0.1", port: 9902 },
    });
  });

  it("reads --budgets (or SLUICE_BUDGETS); unset budgets stay with compile's defaults", () => {
    expect(operatorSettings([], {}).budgets).toEqual({});
    expect(operatorSettings([], { SLUICE_BUDGETS: "namespaceRoutes=500" }).budgets).toEqual({
      namespaceRoutes: 500,
    });
    expect(operatorSettings(["--budgets", "objectBytes=64Ki"], {}).budgets).toEqual({ objectBytes: 65_536 });
  });

  it("reads --require-hostname-ownership (or SLUICE_REQUIRE_HOSTNAME_OWNERSHIP); off by default", () => {
    expect(operatorSettings([], {}).requireHostnameOwnership).toBe(false);
    expect(operatorSettings(["--require-hostname-ownership"], {}).requireHostnameOwnership).toBe(true);
    const env = { SLUICE_REQUIRE_HOSTNAME_OWNERSHIP: "true" };
    expect(operatorSettings([], env).requireHostnameOwnership).toBe(true);
    const bad = { SLUICE_REQUIRE_HOSTNAME_OWNERSHIP: "yes" };
    expect(() => operatorSettings([], bad)).toThrow(ConfigInvalidError);
  });

  it("reads SLUICE_* variables, flags first", () => {
    const s = operatorSettings(["--debounce-ms", "5"], { SLUICE_DEBOUNCE_MS: "7", SLUICE_LEASE: "l" });
    expect(s.debounceMs).toBe(5);
    expect(s.leaseName).toBe("l");
  });

  it.each([
    [["--debounce-ms", "x"], /--debounce-ms: must be a non-negative integer/],
    [["--usage-interval-ms", "-1"], /--usage-interval-ms/],
    [["--admin-listen", "nope"], /--admin-listen: must be HOST:PORT/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["--lease-duration-ms", "1000"], /leaseDurationMs must be greater than renewDeadlineMs/],
    [["--retry-period-ms", "0"], /retryPeriodMs must be > 0/],
    [["--budgets", "objectBytes=0"], /--budgets: objectBytes="0" must be a positive integer/],
    [["--budgets", "routes=5"], /--budgets: unknown budget "routes"/],
  ])("%j is SLUICE_CONFIG_INVALID", (argv, message) => {
    let error: unknown;
    try {
      operatorSettings(argv, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).code).toBe("SLUICE_CONFIG_INVALID");
    expect((error as Error).message).toMatch(message);
  });
});

describe("sluice operator with a bad flag", () => {
  it("prints the error and usage and exits 2, with no stack trace", () => {
    const run = spawnSync(process.execPath, [SLUICE, "operator", "--debounce-ms", "soon"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("SLUICE_CONFIG_INVALID: --debounce-ms: must be a non-negative integer");
    expect(run.stderr).toContain("sluice operator [--kubeconfig FILE]");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    ["operator", "--kubeconfig", "/nonexistent/kubeconfig"],
    [
      "gateway",
      "--snapshot-secret",
      "sluice-system/sluice-snapshot",
      "--kubeconfig",
      "/nonexistent/kubeconfig",
    ],
  ])("%s with a kubeconfig that cannot be read exits 2 naming it, without a stack trace", (...args) => {
    const run = spawnSync(process.execPath, [SLUICE, ...args], { encoding: "utf8", timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("SLUICE_CONFIG_INVALID: --kubeconfig /nonexistent/kubeconfig: ENOENT");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
