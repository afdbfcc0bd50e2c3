// The Helm chart and the kustomize bases against the real API server: lint, the schema's
// refusals, server-side dry runs of every optional feature, chart ≡ config/ (so they cannot
// drift), and an install whose ServiceAccounts, RBAC, Secrets and flags run the operator
// and a gateway (as local processes, the way the kubelet would start them) through a scenario.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import charts from "../charts/sluice/values.schema.json" with { type: "json" };
import { GatewayConfigSchema } from "../gateway/src/config.ts";
import { freePort } from "../test-support/index.ts";
import { installCrds, ROOT } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { tokenKubeconfig } from "./harness/service-account.ts";
import { get, SluiceProcesses } from "./harness/sluice-processes.ts";
import { argoHealth } from "./helm/argocd-lua.ts";
import {
  CHART,
  findObject,
  helm,
  helmBinary,
  type KubeObject,
  objectKey,
  parseObjects,
  renderChart,
} from "./helm/helm.ts";

const NS = "sluice-pkg"; // the installed release
const DRY = "sluice-pkg-dry"; // server-side dry runs
const APP = "pkg-app"; // the scenario's pool and route
const RELEASE = "pkg"; // → pkg-sluice-operator, pkg-sluice-gateway: no clash with config/rbac's names
const ALL_FEATURES = join(ROOT, "e2e/helm/all-features.values.yaml");
const MONITORING_CRDS = join(ROOT, "e2e/helm/monitoring-crds.yaml");

const procs = new SluiceProcesses();
let kube: KubeClient;
let upstream: Server;

function write(name: string, text: string): string {
  const file = join(procs.logs, name);
  writeFileSync(file, text);
  return file;
}

/** What Helm adds and kustomize does not; everything else must be equal. */
function withoutHelmBookkeeping(o: KubeObject): KubeObject {
  const copy = structuredClone(o);
  const strip = (meta?: { labels?: Record<string, string>; annotations?: Record<string, string> }) => {
    if (!meta) return;
    for (const l of ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"])
      delete meta.labels?.[l];
    for (const a of Object.keys(meta.annotations ?? {}))
      if (a.startsWith("checksum/")) delete meta.annotations?.[a];
    if (meta.annotations && Object.keys(meta.annotations).length === 0) delete meta.annotations;
  };
  strip(copy.metadata);
  strip((copy.spec as { template?: { metadata?: KubeObject["metadata"] } } | undefined)?.template?.metadata);
  return copy;
}

const byKey = (objects: KubeObject[]) =>
  Object.fromEntries(objects.map((o) => [objectKey(o), withoutHelmBookkeeping(o)]));

beforeAll(async () => {
  // Built on first use (minutes when cold): here, under the hook timeout, not in a test's.
  helmBinary();
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, DRY, APP, "sluice-system"]);
  kube.kubectl("apply", "-f", MONITORING_CRDS);
  kube.kubectl(
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd",
    "-l",
    "sluice.dev/e2e=stand-in",
  );
  upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await procs.stopAll();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  // Leave nothing for the other test files: the scenario's objects, the release, and what the
  // processes created (snapshot Secret, Leases) or Helm keeps (the hash key Secret).
  kube.kubectl(
    "delete",
    "-n",
    APP,
    "gatewayroutes,backendpools,apikeys,secrets",
    "--all",
    "--ignore-not-found",
  );
  const uninstall = helm(["uninstall", RELEASE, "-n", NS], kube.kubeconfig);
  if (uninstall.status !== 0) console.error(`helm uninstall: ${uninstall.stderr}`);
  kube.kubectl("delete", "-n", NS, "secrets,leases", "--all", "--ignore-not-found");
  kube.kubectl("delete", "-f", MONITORING_CRDS, "--ignore-not-found");
});

describe("the Helm chart", () => {
  it("passes helm lint --strict, with default values and with every feature", () => {
    for (const args of [[], ["-f", ALL_FEATURES]]) {
      const res = helm(["lint", "--strict", CHART, ...args]);
      expect(res.status, res.stdout + res.stderr).toBe(0);
    }
  });

  it.each([
    ["defaults", []],
    ["every optional feature", ["-f", ALL_FEATURES]],
  ])("renders what the API server accepts (server-side dry run): %s", (_, args) => {
    const file = write(`dry-${args.length}.yaml`, renderChart(RELEASE, DRY, args));
    const out = kube.kubectl("apply", "--dry-run=server", "-f", file);
    expect(out).toContain("deployment.apps/pkg-sluice-gateway created (server dry run)");
    if (args.length > 0) {
      for (const kind of [
        "horizontalpodautoscaler.autoscaling/pkg-sluice-gateway",
        "ingress.networking.k8s.io/pkg-sluice-gateway",
        "servicemonitor.monitoring.coreos.com/pkg-sluice",
        "prometheusrule.monitoring.coreos.com/pkg-sluice",
        "configmap/pkg-sluice-grafana-dashboard",
        "poddisruptionbudget.policy/pkg-sluice-gateway",
      ])
        expect(out).toContain(`${kind} created (server dry run)`);
    }
  });

  it("wires every feature into the gateway Deployment", () => {
    const objects = parseObjects(renderChart(RELEASE, DRY, ["-f", ALL_FEATURES]));
    const gateway = objects.find(
      (o) => objectKey(o) === `Deployment/${DRY}/pkg-sluice-gateway`,
    ) as KubeObject;
    const pod = (gateway.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    const [container] = pod.containers as {
      args: string[];
      env: { name: string; value?: string; valueFrom?: unknown }[];
      lifecycle: unknown;
    }[];
    expect(gateway.spec).not.toHaveProperty("replicas"); // the HPA owns it
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(container?.args).toEqual(
      expect.arrayContaining([
        "--snapshot-secret=$(POD_NAMESPACE)/edge-snapshot",
        "--listen=0.0.0.0:8443",
        "--drain-ms=30000",
        "--max-body-bytes=10485760",
        "--trusted-hops=1",
        "--access-log=false",
        "--tls-cert-file=/etc/sluice/tls/tls.crt",
        "--tls-key-file=/etc/sluice/tls/tls.key",
      ]),
    );
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      SLUICE_API_KEY_HASH_KEY: { secretKeyRef: { name: "sluice-hash-key", key: "hash" } },
      SLUICE_ADMIN_TOKEN: { secretKeyRef: { name: "gateway-admin", key: "token" } },
      SLUICE_REDIS_SENTINEL_NAME: "mymaster",
      SLUICE_REDIS_SENTINELS: "redis-sentinel-0.redis:26379,redis-sentinel-1.redis:26379",
      SLUICE_REDIS_PASSWORD: { secretKeyRef: { name: "redis", key: "password" } },
      SLUICE_REDIS_SENTINEL_PASSWORD: { secretKeyRef: { name: "redis", key: "sentinel-password" } },
      SLUICE_REDIS_TIMEOUT_MS: "25",
    });
    expect(container?.lifecycle).toEqual({ preStop: { exec: { command: ["sleep", "10"] } } });
    const role = findObject<{ rules: unknown[] }>(objects, `Role/${DRY}/pkg-sluice-gateway`);
    expect(role.rules[0]).toMatchObject({ resources: ["secrets"], resourceNames: ["edge-snapshot"] });
    const operatorRole = findObject<{ rules: { resourceNames?: string[] }[] }>(
      objects,
      `Role/${DRY}/pkg-sluice-operator`,
    );
    expect(operatorRole.rules.flatMap((r) => r.resourceNames ?? [])).toEqual([
      "edge-snapshot",
      "edge-leader",
    ]);
  });

  it.each([
    [
      "standalone, URL from a Secret",
      ["--set", "redis.mode=standalone,redis.urlSecret.name=r,redis.urlSecret.key=url"],
      { SLUICE_REDIS_URL: { secretKeyRef: { name: "r", key: "url" } } },
    ],
    [
      "standalone, URL",
      ["--set", "redis.mode=standalone,redis.url=redis://redis:6379/0"],
      { SLUICE_REDIS_URL: "redis://redis:6379/0" },
    ],
    [
      "cluster",
      ["--set", "redis.mode=cluster,redis.cluster.nodes={a:6379,b:6379}"],
      { SLUICE_REDIS_CLUSTER_NODES: "a:6379,b:6379" },
    ],
  ])("passes Redis settings to the gateway as SLUICE_REDIS_*: %s", (_, args, expected) => {
    const objects = parseObjects(renderChart(RELEASE, DRY, args));
    const gateway = findObject<{
      spec: {
        template: {
          spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] };
        };
      };
    }>(objects, `Deployment/${DRY}/pkg-sluice-gateway`);
    const env = gateway.spec.template.spec.containers[0]?.env ?? [];
    expect(Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]))).toMatchObject(expected);
  });

  // Each bad value fails the render with a message naming it (values.schema.json, or a
  // `fail` in the templates for what a schema cannot express).
  it.each([
    [["--set", "gateway.replicas=-1"], "at '/gateway/replicas': minimum: got -1, want 0"],
    [["--set", "operator.replicas=two"], "at '/operator/replicas': got string, want integer"],
    [["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy': value must be one of"],
    [["--set", "gateway.service.type=ExternalName"], "at '/gateway/service/type'"],
    [["--set", "gateway.port=70000"], "at '/gateway/port': maximum"],
    [["--set", "replicas=3"], "additional properties 'replicas' not allowed"],
    [
      ["--set", "gateway.config.maxHeadBytes=2000"],
      "at '/gateway/config': additional properties 'maxHeadBytes'",
    ],
    [["--set", "gateway.config.maxHeaderBytes=10"], "at '/gateway/config/maxHeaderBytes': minimum"],
    [["--set", "gateway.config.trustedHops=11"], "at '/gateway/config/trustedHops': maximum"],
    [["--set", "gateway.drainMs=-1"], "at '/gateway/drainMs': minimum"],
    [["--set", "gateway.tls.enabled=true"], "at '/gateway/tls/secretName': minLength"],
    [["--set", "gateway.ingress.enabled=true"], "at '/gateway/ingress/hosts': minItems"],
    [["--set", "redis.mode=redis"], "at '/redis/mode': value must be one of"],
    [["--set", "redis.mode=standalone"], "at '/redis/url': minLength"],
    [["--set", "redis.url=http://redis:6379"], "at '/redis/url': 'http://redis:6379' does not match pattern"],
    [
      ["--set", "redis.mode=sentinel,redis.sentinel.nodes={s:26379}"],
      "at '/redis/sentinel/masterName': minLength",
    ],
    [["--set", "redis.mode=cluster"], "at '/redis/cluster/nodes': minItems"],
    [["--set", "redis.passwordSecret.name=redis"], "at '/redis/passwordSecret'"],
    [["--set", "apiKeyHashKey.existingSecret=Not_A_Name"], "at '/apiKeyHashKey/existingSecret'"],
    [["--set", "snapshotSecretName=UPPER"], "at '/snapshotSecretName'"],
    [["--set", "image.digest=latest"], "at '/image/digest'"],
    [
      ["--set", "metrics.serviceMonitor.interval=30"],
      "at '/metrics/serviceMonitor/interval': got number, want string",
    ],
    [["--set", "operator.logLevel=verbose"], "at '/operator/logLevel'"],
    [
      ["--set", "gateway.terminationGracePeriodSeconds=10"],
      "gateway.terminationGracePeriodSeconds (10) must be at least gateway.preStopSleepSeconds + gateway.drainMs (15 s)",
    ],
  ])("refuses %j", (args, message) => {
    const res = helm(["template", RELEASE, CHART, "--namespace", DRY, ...args]);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain(message);
  });

  it("offers the gateway's own settings with the gateway's ranges, and no setting the gateway lacks", () => {
    type Setting = { type?: string; minimum?: number; maximum?: number };
    const chartConfig = charts.properties.gateway.properties.config.properties as Record<string, Setting>;
    const gateway = GatewayConfigSchema.properties as Record<string, Setting>;
    const range = (s: Setting | undefined) => ({ type: s?.type, minimum: s?.minimum, maximum: s?.maximum });
    for (const [key, schema] of Object.entries(chartConfig))
      expect(range(schema), key).toEqual(range(gateway[key]));
    // Set by the chart itself (from other values, or wired for the pod); a new gateway
    // setting must be added to gateway.config or here.
    const ownedByChart = [
      "listen",
      "adminListen",
      "snapshotSecret",
      "identity",
      "drainMs",
      // gateway.workers, else gateway.resources.limits.cpu.
      "workers",
      "apiKeyHashKey",
      "tlsCertFile",
      "tlsKeyFile",
      "adminToken",
      "kubeconfig",
      "configDir",
      "snapshotFile",
      // redis.* values (URL or Secret, Sentinel, Cluster, password Secret, timeout).
      "redisUrl",
      "redisPassword",
      "redisSentinels",
      "redisSentinelName",
      "redisSentinelPassword",
      "redisClusterNodes",
      "redisTimeoutMs",
    ];
    expect(Object.keys(gateway).sort()).toEqual([...Object.keys(chartConfig), ...ownedByChart].sort());
  });

  it("ships the Grafana dashboard for the sidecar: the source's JSON, its label kept beside the user's", () => {
    const dashboard = findObject<KubeObject & { data: Record<string, string> }>(
      parseObjects(renderChart(RELEASE, DRY, ["-f", ALL_FEATURES])),
      `ConfigMap/${DRY}/pkg-sluice-grafana-dashboard`,
    );
    expect(dashboard.metadata.labels).toMatchObject({
      grafana_dashboard: "1",
      release: "kube-prometheus-stack",
      team: "platform",
    });
    expect(dashboard.metadata.annotations).toEqual({ grafana_folder: "Sluice" });
    expect(dashboard.data).toEqual({
      "sluice-overview.json": readFileSync(
        join(ROOT, "config/prometheus/dashboards/sluice-overview.json"),
        "utf8",
      ),
    });
  });

  it("has alerting rules promtool accepts, which fire on what they describe (promtool test rules)", () => {
    const rule = findObject<{ spec: unknown }>(
      parseObjects(renderChart(RELEASE, DRY, ["-f", ALL_FEATURES])),
      `PrometheusRule/${DRY}/pkg-sluice`,
    );
    const rules = write("rules.yaml", stringify(rule.spec));
    expect(execFileSync("promtool", ["check", "rules", rules], { encoding: "utf8" })).toContain(
      "SUCCESS: 12 rules found",
    );
    const op = `job="pkg-sluice-operator-metrics", namespace="${DRY}"`;
    const gw = `job="pkg-sluice-gateway-metrics", namespace="${DRY}"`;
    // The rules' own annotations, with the labels (and value) of the expected alert filled in.
    const groups = (
      rule.spec as { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] }
    ).groups;
    // `value` is as the template prints it (after humanizePercentage, humanizeDuration, …).
    const annotations = (alert: string, labels: Record<string, string>, value = "") =>
      Object.fromEntries(
        Object.entries(groups.flatMap((g) => g.rules).find((r) => r.alert === alert)?.annotations ?? {}).map(
          ([k, v]) => [
            k,
            v
              .replace(/\{\{ \$value(?: \| \w+)? \}\}/g, value)
              .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l) => labels[l] ?? ""),
          ],
        ),
      );
    const alert = (alertname: string, labels: Record<string, string>, value?: string) => ({
      exp_labels: labels,
      exp_annotations: annotations(alertname, labels, value),
    });
    const firing = (alertname: string, labels: Record<string, string>, value?: string) => ({
      eval_time: "20m",
      alertname,
      exp_alerts: [alert(alertname, labels, value)],
    });
    const gwLabels = { job: "pkg-sluice-gateway-metrics", namespace: DRY, pod: "gw-a" };
    const tests = write(
      "rules.test.yaml",
      stringify({
        rule_files: [rules],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: [
              {
                series: `kube_deployment_status_replicas_available{namespace="${DRY}", deployment="pkg-sluice-gateway"}`,
                values: "0x30",
              },
              { series: `sluice_operator_leader{${op}, pod="op-a"}`, values: "0x30" },
              { series: `sluice_operator_leader{${op}, pod="op-b"}`, values: "0x30" },
              {
                series: `sluice_snapshot_reloads_total{${gw}, pod="gw-a", result="rejected"}`,
                values: "0x15 1x15",
              },
              {
                series: `sluice_operator_objects{${op}, pod="op-a", kind="GatewayRoute", condition="Accepted", status="False"}`,
                values: "2x30",
              },
              {
                series: `sluice_operator_objects{${op}, pod="op-b", kind="GatewayRoute", condition="Accepted", status="False"}`,
                values: "2x30",
              },
              { series: `up{${gw}, pod="gw-a"}`, values: "0x30" },
              // Accepted but not served everywhere: GatewayRoute 5 - 2 not Accepted, BackendPool 1.
              ...["op-a", "op-b"].flatMap((pod) => [
                {
                  series: `sluice_operator_objects{${op}, pod="${pod}", kind="GatewayRoute", condition="Programmed", status="False"}`,
                  values: "5x30",
                },
                {
                  series: `sluice_operator_objects{${op}, pod="${pod}", kind="BackendPool", condition="Programmed", status="False"}`,
                  values: "1x30",
                },
              ]),
              // shop/orders: 10% 5xx, every request between 1 s and 2.5 s; shop/cart: 1% 5xx, fast.
              ...[
                ["shop/orders", "2xx", "0+90x30"],
                ["shop/orders", "5xx", "0+10x30"],
                ["shop/cart", "2xx", "0+99x30"],
                ["shop/cart", "5xx", "0+1x30"],
              ].map(([route, cls, values]) => ({
                series: `sluice_requests_total{${gw}, pod="gw-a", route="${route}", method="GET", status_class="${cls}"}`,
                values,
              })),
              ...[
                ["shop/orders", "1", "0x30"],
                ["shop/orders", "2.5", "0+100x30"],
                ["shop/orders", "+Inf", "0+100x30"],
                ["shop/cart", "1", "0+100x30"],
                ["shop/cart", "2.5", "0+100x30"],
                ["shop/cart", "+Inf", "0+100x30"],
              ].map(([route, le, values]) => ({
                series: `sluice_request_duration_seconds_bucket{${gw}, pod="gw-a", route="${route}", le="${le}"}`,
                values,
              })),
              { series: `sluice_redis_errors_total{${gw}, pod="gw-a", kind="timeout"}`, values: "0+1x30" },
              // The leader cannot publish its snapshot; the standby publishes nothing.
              { series: `sluice_operator_publish_failing{${op}, pod="op-a"}`, values: "1x30" },
              { series: `sluice_operator_publish_failing{${op}, pod="op-b"}`, values: "0x30" },
              // The leader fails every retry (backoff tops out at 30 s: two a minute).
              { series: `sluice_operator_reconcile_failures_total{${op}, pod="op-a"}`, values: "0+2x30" },
            ],
            alert_rule_test: [
              firing("SluiceGatewayUnavailable", {
                severity: "critical",
                namespace: DRY,
                deployment: "pkg-sluice-gateway",
              }),
              firing("SluiceOperatorNoLeader", { severity: "warning" }),
              firing("SluiceSnapshotRejected", { severity: "warning", ...gwLabels, result: "rejected" }),
              firing("SluiceObjectsNotAccepted", { severity: "info", kind: "GatewayRoute" }, "2"),
              firing("SluiceScrapeFailing", { severity: "warning", ...gwLabels }),
              {
                eval_time: "20m",
                alertname: "SluiceObjectsNotProgrammed",
                exp_alerts: [
                  alert("SluiceObjectsNotProgrammed", { severity: "warning", kind: "GatewayRoute" }, "3"),
                  alert("SluiceObjectsNotProgrammed", { severity: "warning", kind: "BackendPool" }, "1"),
                ],
              },
              firing("SluiceHighErrorRate", { severity: "warning", route: "shop/orders" }, "10%"),
              firing("SluiceHighLatency", { severity: "warning", route: "shop/orders" }, "2.485s"),
              firing("SluiceRedisErrors", { severity: "warning", pod: "gw-a" }),
              firing("SluiceOperatorReconcileFailing", { severity: "warning" }),
              firing("SluiceSnapshotNotPublished", { severity: "critical" }),
              { eval_time: "1m", alertname: "SluiceSnapshotNotPublished", exp_alerts: [] },
              // Not before their `for`.
              ...[
                "SluiceHighErrorRate",
                "SluiceHighLatency",
                "SluiceObjectsNotProgrammed",
                "SluiceOperatorReconcileFailing",
              ].map((alertname) => ({ eval_time: "8m", alertname, exp_alerts: [] })),
            ],
          },
          {
            // A failure that cleared at the next retry (an API server restart) is no alert.
            interval: "1m",
            input_series: [
              { series: `sluice_operator_reconcile_failures_total{${op}, pod="op-a"}`, values: "0x5 1x25" },
            ],
            alert_rule_test: [5, 10, 20].map((m) => ({
              eval_time: `${m}m`,
              alertname: "SluiceOperatorReconcileFailing",
              exp_alerts: [],
            })),
          },
        ],
      }),
    );
    const res = spawnSync("promtool", ["test", "rules", tests], { encoding: "utf8" });
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it("links every alert to its runbook in docs/runbooks, which exists", () => {
    // The shipped alerts (no additionalRules of the user's).
    const rule = findObject<{ spec: { groups: { rules: AlertRule[] }[] } }>(
      parseObjects(renderChart(RELEASE, DRY, ["--set", "metrics.prometheusRule.enabled=true"])),
      `PrometheusRule/${DRY}/pkg-sluice`,
    );
    const alerts = rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThan(0);
    for (const { alert, annotations } of alerts) {
      // Under the project's home (Chart.yaml `home`), by the page's path in the repository.
      expect(annotations?.runbook_url, alert).toBe(`https://sluice.dev/docs/runbooks/${alert}.md`);
      const runbook = readFileSync(join(ROOT, `docs/runbooks/${alert}.md`), "utf8");
      expect(runbook, alert).toMatch(new RegExp(`^# ${alert}\\n`));
      for (const section of ["## Meaning", "## Check", "## Fix"]) expect(runbook, alert).toContain(section);
    }
  });
});

interface AlertRule {
  alert?: string;
  annotations?: Record<string, string>;
}

describe("the kustomize bases (config/)", () => {
  it("config/default holds the chart's objects with default values, field for field", () => {
    const chart = byKey(parseObjects(renderChart("sluice", "sluice-system")));
    const kustomize = byKey(parseObjects(kube.kubectl("kustomize", join(ROOT, "config/default"))));
    // Only the chart generates the API-key hash key; with kustomize you create it (docs/install.md).
    delete chart["Secret/sluice-system/sluice-api-key-hash-key"];
    for (const key of Object.keys(kustomize))
      if (key.startsWith("Namespace/") || key.startsWith("CustomResourceDefinition/")) delete kustomize[key];
    expect(Object.keys(kustomize).sort()).toEqual(Object.keys(chart).sort());
    for (const key of Object.keys(chart)) expect(kustomize[key], key).toEqual(chart[key]);
  });

  it("config/prometheus holds the chart's monitoring objects", () => {
    const monitoring = ["ServiceMonitor", "PrometheusRule", "Service", "ConfigMap"];
    const chart = byKey(
      parseObjects(
        renderChart("sluice", "sluice-system", [
          "--set",
          "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true",
        ]),
      ).filter((o) => monitoring.includes(o.kind) && o.metadata.name !== "sluice-gateway"),
    );
    const kustomize = byKey(parseObjects(kube.kubectl("kustomize", join(ROOT, "config/prometheus"))));
    expect(kustomize).toEqual(chart);
  });

  it.each(["config/default", "config/prometheus"])("%s is accepted by the API server (dry run)", (dir) => {
    const out = kube.kubectl("apply", "--dry-run=server", "-k", join(ROOT, dir));
    expect(out).toMatch(/\(server dry run\)/);
  });
});

describe("helm install, then the chart's RBAC and flags run the operator and a gateway", () => {
  const localPort = new Map<string, number>();

  /** The Deployment's container as the kubelet would start it in pod `pod`, run as a process. */
  async function startLike(deployment: string, pod: string, kubeconfig: string) {
    const d = JSON.parse(kube.kubectl("get", "deployment", deployment, "-n", NS, "-o", "json")) as {
      spec: { template: { spec: { containers: { args: string[]; env: EnvVar[] }[] } } };
    };
    const container = d.spec.template.spec.containers[0];
    if (!container) throw new Error(`${deployment} has no container`);
    const env: Record<string, string> = {};
    for (const e of container.env) env[e.name] = resolveEnv(e, pod);
    const args = container.args.map((a) =>
      a.replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => env[v] ?? `$(${v})`),
    );
    // Loopback ports instead of the pod's; everything else exactly as rendered.
    const local = await Promise.all(
      args.map(async (a) => {
        const m = /^--(listen|admin-listen)=/.exec(a);
        if (!m) return a;
        const port = await freePort();
        localPort.set(`${pod}/${m[1]}`, port);
        return `--${m[1]}=127.0.0.1:${port}`;
      }),
    );
    return procs.spawn(pod, env, [...local, "--kubeconfig", kubeconfig]);
  }

  interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
  }
  function resolveEnv(e: EnvVar, pod: string): string {
    if (e.value !== undefined) return e.value;
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === "metadata.name") return pod;
    if (field === "metadata.namespace") return NS;
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const data = kube.kubectl("get", "secret", ref.name, "-n", NS, "-o", `jsonpath={.data.${ref.key}}`);
      return Buffer.from(data, "base64").toString("utf8");
    }
    throw new Error(`env ${e.name}: unsupported source ${JSON.stringify(e.valueFrom)}`);
  }

  it("installs, and a pool + route + API key applied with kubectl are served and Programmed", async () => {
    const install = helm(["install", RELEASE, CHART, "--namespace", NS], kube.kubeconfig);
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toContain("kubectl -n sluice-pkg rollout status deploy/pkg-sluice-gateway");

    const operatorKubeconfig = tokenKubeconfig(kube, NS, "pkg-sluice-operator", procs.logs);
    const gatewayKubeconfig = tokenKubeconfig(kube, NS, "pkg-sluice-gateway", procs.logs);
    for (const pod of ["pkg-sluice-operator-a", "pkg-sluice-operator-b"])
      await startLike("pkg-sluice-operator", pod, operatorKubeconfig);
    await startLike("pkg-sluice-gateway", "pkg-sluice-gateway-a", gatewayKubeconfig);
    const gateway = `http://127.0.0.1:${localPort.get("pkg-sluice-gateway-a/listen")}`;

    const upstreamPort = (upstream.address() as AddressInfo).port;
    const manifests = [
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "pkg-client-key", namespace: APP },
        stringData: { key: "pkg-client-key-0123456789abcdef" },
      },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "ApiKey",
        metadata: { name: "pkg-client", namespace: APP },
        spec: { secretRef: { name: "pkg-client-key", key: "key" }, consumer: "pkg-client" },
      },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "BackendPool",
        metadata: { name: "pkg", namespace: APP },
        spec: { endpoints: [{ address: "127.0.0.1", port: upstreamPort }] },
      },
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "GatewayRoute",
        metadata: { name: "pkg", namespace: APP },
        spec: {
          hostnames: ["pkg.example.com"],
          rules: [
            { matches: [{ path: { type: "PathPrefix", value: "/pkg" } }], backendRefs: [{ name: "pkg" }] },
          ],
        },
      },
    ];
    kube.kubectl("apply", "-f", write("scenario.yaml", manifests.map((m) => stringify(m)).join("---\n")));

    const served = await procs.until(
      "the gateway to serve /pkg",
      async () => {
        const r = await get(gateway, "/pkg/x", "pkg.example.com");
        return r.status === 200 ? r : undefined;
      },
      30_000,
    );
    expect(served.body).toBe("upstream saw /pkg/x");

    // Programmed: the gateway reported (its own Lease, chart RBAC) a snapshot the operator
    // published (the Secret the flags and RBAC name) with the API key hashed by the shared key.
    for (const kind of ["gatewayroute", "apikey"]) {
      const message = await procs.until(
        `Programmed=True on ${kind}/pkg*`,
        () => {
          const v = kube.kubectl(
            "get",
            kind,
            kind === "apikey" ? "pkg-client" : "pkg",
            "-n",
            APP,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Programmed")].message}',
          );
          return v.startsWith("Served by 1/1") ? v : undefined;
        },
        30_000,
      );
      expect(message).toBe("Served by 1/1 gateway replicas.");
    }
    const leases = kube.kubectl("get", "leases", "-n", NS, "-o", "name").split("\n").sort();
    expect(leases).toEqual(
      expect.arrayContaining([
        "lease.coordination.k8s.io/pkg-sluice-operator",
        "lease.coordination.k8s.io/sluice-gateway-pkg-sluice-gateway-a",
      ]),
    );
    const snapshot = kube.kubectl("get", "secret", "pkg-sluice-snapshot", "-n", NS, "-o", "name").trim();
    expect(snapshot).toBe("secret/pkg-sluice-snapshot");

    // And Argo CD's health check reads the real status as Healthy.
    const route = JSON.parse(kube.kubectl("get", "gatewayroute", "pkg", "-n", APP, "-o", "json"));
    expect(argoHealth(route)).toEqual({ status: "Healthy", message: "Served by 1/1 gateway replicas." });
  });
});
