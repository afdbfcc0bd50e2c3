// Values that contradict each other are refused by `helm template`, naming each value
// (charts/sluice/templates/_validate.tpl); the operator refuses the same leader-election
// times at start with SLUICE_CONFIG_INVALID, so a chart render and the process agree.
// Rendered with helm only.
import { describe, expect, it } from "vitest";
import { operatorSettings } from "../../cli/operator-command.ts";
import { CHART, findObject, helm, parseObjects, renderChart } from "./helm.ts";

const refusal = (set: string) => helm(["template", "pkg", CHART, "--namespace", "v", "--set", set]);

describe("the chart's rules between values", () => {
  it.each([
    [
      "operator.renewDeadlineMs=15000",
      "operator.renewDeadlineMs (15000) must be less than operator.leaseDurationMs (15000)",
    ],
    [
      "operator.leaseDurationMs=8000",
      "operator.renewDeadlineMs (10000) must be less than operator.leaseDurationMs (8000)",
    ],
    [
      "operator.retryPeriodMs=10000",
      "operator.retryPeriodMs (10000) must be less than operator.renewDeadlineMs (10000)",
    ],
    ["gateway.adminPort=8080", "gateway.adminPort (8080) must differ from gateway.port (8080)"],
    ["gateway.port=9901", "gateway.adminPort (9901) must differ from gateway.port (9901)"],
    [
      "gateway.autoscaling.enabled=true,gateway.autoscaling.minReplicas=5,gateway.autoscaling.maxReplicas=3",
      "gateway.autoscaling.minReplicas (5) must not exceed gateway.autoscaling.maxReplicas (3)",
    ],
    [
      "operator.podDisruptionBudget.minAvailable=2",
      "operator.podDisruptionBudget.minAvailable (2) must be less than operator.replicas (2)",
    ],
    [
      "gateway.replicas=3,gateway.podDisruptionBudget.minAvailable=3",
      "gateway.podDisruptionBudget.minAvailable (3) must be less than gateway.replicas (3)",
    ],
    [
      "gateway.autoscaling.enabled=true,gateway.podDisruptionBudget.minAvailable=2",
      "gateway.podDisruptionBudget.minAvailable (2) must be less than gateway.autoscaling.minReplicas (2)",
    ],
    [
      "gateway.podDisruptionBudget.minAvailable=100%",
      "gateway.podDisruptionBudget.minAvailable (100%) must be below 100%",
    ],
    [
      "gateway.readinessProbe.timeoutSeconds=6",
      "gateway.readinessProbe.timeoutSeconds (6) must not exceed gateway.readinessProbe.periodSeconds (5)",
    ],
    [
      "operator.livenessProbe.periodSeconds=1",
      "operator.livenessProbe.timeoutSeconds (2) must not exceed operator.livenessProbe.periodSeconds (1)",
    ],
    [
      "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.scrapeTimeout=1m",
      "metrics.serviceMonitor.scrapeTimeout (1m) must not exceed metrics.serviceMonitor.interval (30s)",
    ],
  ])("refuses %s", (set, message) => {
    const res = refusal(set);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain(message);
  });

  it("lists every broken rule at once", () => {
    const res = refusal("operator.renewDeadlineMs=20000,gateway.adminPort=8080");
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain(
      "invalid values:\n- operator.renewDeadlineMs (20000) must be less than operator.leaseDurationMs (15000)",
    );
    expect(res.stderr).toContain("\n- gateway.adminPort (8080) must differ from gateway.port (8080)");
  });

  it.each([
    ["the defaults", []],
    ["a PDB on one replica is not rendered, so not checked", ["--set", "gateway.replicas=1"]],
    [
      "a disabled HPA is not checked",
      ["--set", "gateway.autoscaling.minReplicas=5,gateway.autoscaling.maxReplicas=3"],
    ],
    [
      "a disabled PDB is not checked",
      ["--set", "operator.podDisruptionBudget.enabled=false,operator.podDisruptionBudget.minAvailable=5"],
    ],
    ["a percentage below 100", ["--set", "gateway.podDisruptionBudget.minAvailable=99%"]],
    ["a probe timeout equal to its period", ["--set", "gateway.readinessProbe.timeoutSeconds=5"]],
    [
      "a scrape timeout equal to the interval, in other units",
      [
        "--set",
        "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.interval=1m,metrics.serviceMonitor.scrapeTimeout=60000ms",
      ],
    ],
  ])("accepts %s", (_, args) => {
    expect(() => renderChart("pkg", "v", args)).not.toThrow();
  });

  // Every combination the chart renders is one the operator starts with, and the other way round.
  it.each([
    [15_000, 10_000, 2_000],
    [15_000, 14_999, 14_998],
    [15_000, 15_000, 2_000],
    [15_000, 20_000, 2_000],
    [15_000, 10_000, 10_000],
    [5_000, 1_000, 2_000],
  ])("agrees with the operator on lease %i, renew %i, retry %i", (lease, renew, retry) => {
    const set = `operator.leaseDurationMs=${lease},operator.renewDeadlineMs=${renew},operator.retryPeriodMs=${retry}`;
    const rendered = helm(["template", "pkg", CHART, "--namespace", "v", "--set", set]);
    const flags = [
      `--lease-duration-ms=${lease}`,
      `--renew-deadline-ms=${renew}`,
      `--retry-period-ms=${retry}`,
    ];
    let operatorError: unknown;
    try {
      operatorSettings(flags, {});
    } catch (err) {
      operatorError = err;
    }
    if (rendered.status === 0) {
      expect(operatorError).toBeUndefined();
      // And the operator accepts the args the chart rendered.
      const deployment = findObject<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>(
        parseObjects(rendered.stdout),
        "Deployment/v/pkg-sluice-operator",
      );
      const args = deployment.spec.template.spec.containers[0]?.args.slice(1) ?? [];
      expect(operatorSettings(args, {}).renewDeadlineMs).toBe(renew);
    } else {
      expect(rendered.stderr).toContain("invalid values:");
      expect(operatorError).toMatchObject({ code: "SLUICE_CONFIG_INVALID" });
      expect((operatorError as Error).message).toContain(
        `(--lease-duration-ms=${lease}, --renew-deadline-ms=${renew}, --retry-period-ms=${retry};`,
      );
    }
  });
});
