import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "./config.ts";

describe("loadGatewayConfig", () => {
  it("applies defaults and reads flags", () => {
    const c = loadGatewayConfig(
      ["--config-dir", "x", "--listen", "127.0.0.1:9000", "--trusted-hops", "2"],
      {},
    );
    expect(c).toMatchObject({
      configDir: "x",
      listen: "127.0.0.1:9000",
      trustedHops: 2,
      adminListen: "127.0.0.1:9901",
      drainMs: 10000,
    });
  });

  it("defaults to dropping underscored headers, bounding slow clients and sending security headers", () => {
    const c = loadGatewayConfig(["--config-dir", "x", "--frame-options", ""], {});
    expect(c).toMatchObject({
      headersWithUnderscores: "drop",
      bodyIdleTimeoutMs: 10000,
      maxRequestsPerClient: 256,
      securityHeaders: true,
      contentTypeOptions: "nosniff",
      frameOptions: "",
    });
  });

  it("takes flags over environment over file", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-config-"));
    const file = join(dir, "gateway.yaml");
    writeFileSync(file, "configDir: from-file\ndrainMs: 1\nmaxBodyBytes: 5\n");
    const c = loadGatewayConfig(["--config", file, "--drain-ms", "3"], {
      SLUICE_DRAIN_MS: "2",
      SLUICE_MAX_BODY_BYTES: "7",
    });
    expect(c).toMatchObject({ configDir: "from-file", drainMs: 3, maxBodyBytes: 7 });
  });

  it.each([
    [["--config-dir", "x", "--listen", "nohost"], "--listen (SLUICE_LISTEN): must match pattern"],
    [["--config-dir", "x", "--trusted-hops=-1"], "--trusted-hops (SLUICE_TRUSTED_HOPS): must be >= 0"],
    [["--config-dir", "x", "--drain-ms", "soon"], "--drain-ms (SLUICE_DRAIN_MS): must be integer"],
    [["--config-dir", "x", "--bogus"], "Unknown option '--bogus'"],
    [[], "set exactly one of --config-dir (standalone), --snapshot-file or --snapshot-secret"],
    [["--config-dir", "x", "--snapshot-file", "y"], "set exactly one of --config-dir"],
    [["--config-dir", "x", "--tls-cert-file", "c.pem"], "--tls-cert-file and --tls-key-file go together"],
    [
      ["--config-dir", "x", "--headers-with-underscores", "keep"],
      "--headers-with-underscores (SLUICE_HEADERS_WITH_UNDERSCORES): must be equal to one of the allowed values",
    ],
  ])("refuses %j naming the setting", (argv, message) => {
    expect(() => loadGatewayConfig(argv, {})).toThrow(message);
    try {
      loadGatewayConfig(argv, {});
    } catch (err) {
      expect((err as { code: string }).code).toBe("SLUICE_CONFIG_INVALID");
    }
  });
});
