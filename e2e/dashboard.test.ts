// The Grafana dashboard (config/prometheus/dashboards/sluice-overview.json) against the
// metrics the processes really expose: every metric and label its expressions name exists in
// GatewayMetrics or OperatorMetrics (or is a label Prometheus adds to every target), promtool
// parses every expression, every panel is wired to the ${datasource} variable, and panels
// evaluated by promtool over the processes' own series, labelled the way a Prometheus Operator
// scrape labels them, show what happened. Here rather than in the unit project because
// promtool is a system package the e2e target installs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { GatewayMetrics, type PoolGauges } from "../gateway/src/observability/gateway-metrics.ts";
import { OperatorMetrics } from "../operator/src/operator-metrics.ts";
import { DASHBOARD_COPY, DASHBOARD_SOURCE } from "../scripts/sync-dashboard.ts";
import { ROOT } from "./harness/install.ts";

/**
 * Labels a Prometheus Operator ServiceMonitor scrape sets on every series of a target. A
 * scraped label of the same name is renamed exported_<name> (honorLabels is off), so none of
 * ours may be called that.
 */
const TARGET_LABELS = ["job", "instance", "namespace", "service", "pod", "container", "endpoint"];
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a template
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: unknown;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: unknown;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: unknown;
}
interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, DASHBOARD_SOURCE), "utf8")) as Dashboard;
/** Every panel, those of collapsed rows included. */
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));
const variableQuery = (v: Variable) => (typeof v.query === "string" ? v.query : v.query.query);

/** Metric name → its labels, as a scrape of /metrics shows them (histograms as _bucket/_sum/_count). */
const labelsOf = new Map<string, Set<string>>();

beforeAll(async () => {
  const registries = [
    new GatewayMetrics(
      () => 0,
      () => [],
    ).registry,
    new OperatorMetrics().registry,
  ];
  for (const registry of registries) {
    const exposed = new Set((await registry.getMetricsAsJSON()).map((m) => `${m.name} ${m.type}`));
    for (const metric of registry.getMetricsAsArray()) {
      expect(exposed).toContain(`${metric.name} ${metric.type}`);
      // prom-client keeps each metric's label names on it; its types do not declare them.
      const labelNames = (metric as unknown as { labelNames: readonly string[] }).labelNames;
      const labels = new Set(labelNames);
      if (String(metric.type) === "histogram") {
        labelsOf.set(`${metric.name}_bucket`, new Set([...labels, "le"]));
        labelsOf.set(`${metric.name}_sum`, labels);
        labelsOf.set(`${metric.name}_count`, labels);
      } else labelsOf.set(metric.name, labels);
    }
  }
});

// ---- A small PromQL reader: enough to find selectors and grouping clauses. promtool (below)
// is the real parser; this only has to see which metric and label names an expression uses.

type Token = { kind: "ident" | "string" | "number" | "range" | "punct"; text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s+|(?<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)|(?<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?<range>\[[^\]]*\])|(?<punct>=~|!~|!=|==|>=|<=|[-+*/%^(){},=<>])/y;
  let at = 0;
  while (at < expr.length) {
    re.lastIndex = at;
    const m = re.exec(expr);
    if (!m) throw new Error(`cannot read ${JSON.stringify(expr.slice(at))} in ${expr}`);
    at = re.lastIndex;
    const kind = (Object.keys(m.groups ?? {}) as Token["kind"][]).find((k) => m.groups?.[k] !== undefined);
    if (kind) tokens.push({ kind, text: m[0] });
  }
  return tokens;
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
  "group_left",
  "group_right",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring"]);
const AGGREGATIONS = new Set(
  "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split(
    " ",
  ),
);

interface Selector {
  metric: string;
  labels: string[];
  at: number;
}
interface Grouping {
  clause: string;
  labels: string[];
  /** The metrics whose series the clause groups. */
  metrics: string[];
}

/** The index of the parenthesis closing the one at `open` (or opening the one at `close`). */
function matching(tokens: Token[], from: number, step: 1 | -1): number {
  let depth = 0;
  for (let i = from; i >= 0 && i < tokens.length; i += step) {
    const t = tokens[i]?.text;
    if (t === "(") depth += step;
    if (t === ")") depth -= step;
    if (depth === 0) return i;
  }
  throw new Error("unbalanced parentheses");
}

function readExpr(expr: string): { selectors: Selector[]; groupings: Grouping[] } {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const clauses: { clause: string; labels: string[]; from: number; to: number }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1]?.text;
    if (t.kind === "punct" && t.text === "{") throw new Error(`a selector without a metric name in ${expr}`);
    if (t.kind !== "ident" || KEYWORDS.has(t.text)) continue;
    if (GROUPING.has(t.text) && next === "(") {
      const close = matching(tokens, i + 1, 1);
      const labels = tokens
        .slice(i + 2, close)
        .filter((x) => x.kind === "ident")
        .map((x) => x.text);
      let scope: [number, number] = [0, tokens.length - 1]; // on / ignoring: both sides
      if (t.text === "by" || t.text === "without")
        scope =
          tokens[close + 1]?.text === "(" // sum by (x) (…)
            ? [close + 1, matching(tokens, close + 1, 1)]
            : [matching(tokens, i - 1, -1), i - 1]; // sum (…) by (x)
      clauses.push({ clause: t.text, labels, from: scope[0], to: scope[1] });
      i = close;
      continue;
    }
    if (next === "(" || AGGREGATIONS.has(t.text)) continue; // a function or an aggregation
    const selector: Selector = { metric: t.text, labels: [], at: i };
    if (next === "{") {
      const close = tokens.findIndex((x, j) => j > i && x.text === "}");
      const inside = tokens.slice(i + 2, close);
      for (let j = 0; j < inside.length; j += 4) {
        const [label, op, value, comma] = inside.slice(j, j + 4);
        expect(label?.kind, expr).toBe("ident");
        expect(["=", "!=", "=~", "!~"], expr).toContain(op?.text);
        expect(value?.kind, expr).toBe("string");
        if (comma) expect(comma.text, expr).toBe(",");
        selector.labels.push(label?.text as string);
      }
      i = close;
    }
    selectors.push(selector);
  }
  const groupings = clauses.map((c) => ({
    clause: c.clause,
    labels: c.labels,
    metrics: selectors.filter((s) => s.at > c.from && s.at < c.to).map((s) => s.metric),
  }));
  return { selectors, groupings };
}

/** What Grafana would send, for promtool: its variables replaced by plausible values. */
const asPromQL = (expr: string) =>
  expr
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__interval", "1m")
    .replaceAll("$__range", "1h")
    .replace(/\$\{?(\w+)\}?/g, ".*");

const everyExpr = [
  ...queries.map(({ panel, target }) => ({ where: `${panel.title} ${target.refId}`, expr: target.expr })),
  ...dashboard.templating.list
    .filter((v) => v.type === "query")
    .map((v) => {
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(variableQuery(v));
      if (!m) throw new Error(`variable ${v.name}: expected label_values(selector, label)`);
      return { where: `variable ${v.name}`, expr: m[1] as string, label: m[2] };
    }),
];

const knownLabel = (metric: string, label: string) =>
  TARGET_LABELS.includes(label) || (labelsOf.get(metric)?.has(label) ?? false);

describe("the Grafana dashboard", () => {
  it("reads only metrics GatewayMetrics and OperatorMetrics expose", () => {
    for (const { where, expr } of everyExpr)
      for (const s of readExpr(expr).selectors)
        expect([...labelsOf.keys()], `${where}: ${s.metric} in ${expr}`).toContain(s.metric);
  });

  it("selects, groups and names series only by labels those metrics carry (or the scrape adds)", () => {
    for (const { where, expr, ...rest } of everyExpr) {
      const { selectors, groupings } = readExpr(expr);
      for (const s of selectors)
        for (const label of s.labels)
          expect(knownLabel(s.metric, label), `${where}: ${s.metric}{${label}} in ${expr}`).toBe(true);
      for (const g of groupings) {
        expect(g.metrics.length, `${where}: ${g.clause} (${g.labels}) groups nothing`).toBeGreaterThan(0);
        for (const metric of g.metrics)
          for (const label of g.labels)
            expect(knownLabel(metric, label), `${where}: ${g.clause} (${label}) over ${metric}`).toBe(true);
      }
      const label = (rest as { label?: string }).label;
      if (label) for (const s of selectors) expect(knownLabel(s.metric, label), where).toBe(true);
    }
    // Legends name labels the result keeps.
    for (const { panel, target } of queries)
      for (const [, label] of (target.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
        const kept = readExpr(target.expr).groupings.find((g) => g.clause === "by");
        expect(kept?.labels, `${panel.title} ${target.refId}: legend {{${label}}}`).toContain(label);
      }
  });

  it("shows every metric the processes expose", () => {
    const used = new Set(everyExpr.flatMap(({ expr }) => readExpr(expr).selectors.map((s) => s.metric)));
    const base = (m: string) => m.replace(/_(bucket|sum|count)$/, "");
    const shown = new Set([...used].flatMap((m) => [m, base(m)]));
    // prom-client's default metrics: the dashboard charts a few, the rest are for ad-hoc queries.
    const ours = (m: string) => !/^(process|nodejs)_/.test(m);
    const missing = [...labelsOf.keys()].filter((m) => ours(m) && !shown.has(m) && !shown.has(base(m)));
    expect(missing).toEqual([]);
  });

  it("has expressions promtool parses (as recording rules)", () => {
    const rules = everyExpr.map(({ expr }, i) => ({
      record: `sluice_dashboard:expr_${i}`,
      expr: asPromQL(expr),
    }));
    const dir = mkdtempSync(join(tmpdir(), "sluice-dashboard-"));
    const file = join(dir, "dashboard-rules.yaml");
    writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
    const res = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
    expect(res.status, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it("has unique ids and variables, and every query on the datasource variable", () => {
    expect(dashboard.uid).toBe("sluice-overview");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const names = dashboard.templating.list.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(dashboard.templating.list.find((v) => v.name === "datasource")).toMatchObject({
      type: "datasource",
      query: "prometheus",
    });
    expect(names).toEqual(expect.arrayContaining(["namespace", "route"]));
    for (const v of dashboard.templating.list.filter((x) => x.type === "query"))
      expect(v.datasource, v.name).toEqual(DATASOURCE);
    for (const p of panels.filter((x) => x.type !== "row")) {
      expect(p.datasource, p.title).toEqual(DATASOURCE);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource, `${p.title} ${t.refId}`).toEqual(DATASOURCE);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
    }
  });

  it("lays panels out without overlaps, within 24 columns", () => {
    const top = dashboard.panels; // a collapsed row's panels are placed when it opens
    for (const [i, a] of top.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of top.slice(i + 1)) {
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        expect(apart, `${a.title} / ${b.title}`).toBe(true);
      }
    }
  });

  it("is shipped unchanged by the chart (make manifests copies it)", () => {
    expect(readFileSync(join(ROOT, DASHBOARD_COPY), "utf8")).toBe(
      readFileSync(join(ROOT, DASHBOARD_SOURCE), "utf8"),
    );
  });
});

// ---- The panels evaluated over series as Prometheus stores them when the Prometheus
// Operator scrapes the gateways and the operator (kube-prometheus-stack's defaults).

/** One scrape of `registry` as Prometheus stores it: the target's labels on every series. */
async function scraped(registry: Registry, target: Record<string, string>) {
  const series: { series: string; values: string }[] = [];
  for (const metric of await registry.getMetricsAsJSON()) {
    const cumulative = ["counter", "histogram"].includes(String(metric.type));
    for (const sample of metric.values) {
      const labels: Record<string, string> = {};
      for (const [name, value] of Object.entries(sample.labels))
        labels[TARGET_LABELS.includes(name) ? `exported_${name}` : name] = String(value);
      Object.assign(labels, target);
      const text = Object.entries(labels)
        .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
        .join(", ");
      // What the process reported at every scrape: counters grow by it each minute.
      const v = sample.value;
      if (!Number.isFinite(v)) continue; // event-loop lag before its first sample: NaN
      series.push({
        series: `${(sample as { metricName?: string }).metricName ?? metric.name}{${text}}`,
        values: cumulative ? `0+${v}x20` : `${v}x20`,
      });
    }
  }
  return series;
}

/** The labels kube-prometheus-stack's Prometheus sets on a target of the ServiceMonitor. */
const target = (service: string, container: string, pod: string, ip: string) => ({
  job: service,
  instance: `${ip}:9901`,
  namespace: "sluice-system",
  service,
  pod,
  container,
  endpoint: "admin",
});

/** A pool of three endpoints, `down` of them out of rotation on this replica. */
const orders = (down: string[]): PoolGauges => ({
  id: "shop/orders",
  endpoints: ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"].map((key) => ({
    key,
    healthy: !down.includes(key),
  })),
  atCapacity: () => false,
  inflight: 0,
});

const panelExpr = (title: string, refId = "A") => {
  const expr = queries.find(({ panel, target: t }) => panel.title === title && t.refId === refId)?.target
    .expr;
  if (!expr) throw new Error(`no panel "${title}" ${refId}`);
  return asPromQL(expr);
};

describe("the Grafana dashboard over series scraped by the Prometheus Operator", () => {
  it("counts endpoints in and out of rotation, names ejected upstreams, charts only Sluice's pods", async () => {
    // Two gateway replicas serve shop/orders (three endpoints); gw-b ejected 10.0.0.3:8080.
    const gwA = new GatewayMetrics(
      () => 1,
      () => [orders([])],
    );
    const gwB = new GatewayMetrics(
      () => 1,
      () => [orders(["10.0.0.3:8080"])],
    );
    for (const gw of [gwA, gwB]) gw.request("shop/orders", "GET", 200, 0.004);
    gwB.ejected("shop/orders", "10.0.0.3:8080");
    gwB.upstreamError("shop/orders", "10.0.0.3:8080", "connect-failure");
    const operator = new OperatorMetrics();
    operator.leading(true);
    operator.published();
    const input_series = [
      ...(await scraped(gwA.registry, target("sluice-gateway-metrics", "gateway", "gw-a", "10.1.0.1"))),
      ...(await scraped(gwB.registry, target("sluice-gateway-metrics", "gateway", "gw-b", "10.1.0.2"))),
      ...(await scraped(
        operator.registry,
        target("sluice-operator-metrics", "operator", "op-a", "10.1.0.3"),
      )),
    ];
    // Another application's pod in the same namespace, with the same default metrics.
    input_series.push(
      ...(await scraped(gwA.registry, target("other-metrics", "other", "other-app", "10.1.0.4"))).filter(
        (x) => x.series.startsWith("process_"),
      ),
    );
    // A rate's exact value depends on extrapolation: `> bool 0` keeps what a legend shows.
    const shown = (title: string) => `(${panelExpr(title)}) > bool 0`;
    const promqlTests = [
      { expr: panelExpr("Gateway replicas"), exp_samples: [{ labels: "{}", value: 2 }] },
      { expr: panelExpr("Operator leaders"), exp_samples: [{ labels: "{}", value: 1 }] },
      {
        expr: panelExpr("Endpoints in rotation by pool"),
        exp_samples: [{ labels: '{pool="shop/orders"}', value: 2 }],
      },
      {
        expr: panelExpr("Endpoints out of rotation by replica"),
        exp_samples: [{ labels: '{pool="shop/orders", pod="gw-b"}', value: 1 }],
      },
      {
        expr: shown("Passive-health ejections"),
        exp_samples: [{ labels: '{pool="shop/orders", upstream="10.0.0.3:8080"}', value: 1 }],
      },
      {
        expr: shown("Upstream errors by pool and kind"),
        exp_samples: [{ labels: '{pool="shop/orders", kind="connect-failure"}', value: 1 }],
      },
      {
        expr: shown("CPU by pod"),
        exp_samples: ["gw-a", "gw-b", "op-a"].map((pod) => ({ labels: `{pod="${pod}"}`, value: 1 })),
      },
      {
        expr: shown("Resident memory by pod"),
        exp_samples: ["gw-a", "gw-b", "op-a"].map((pod) => ({ labels: `{pod="${pod}"}`, value: 1 })),
      },
      {
        expr: shown("Requests per second by route and status class"),
        exp_samples: [{ labels: '{route="shop/orders", status_class="2xx"}', value: 1 }],
      },
    ].map((t) => ({ ...t, eval_time: "10m" }));
    const dir = mkdtempSync(join(tmpdir(), "sluice-dashboard-"));
    const rules = join(dir, "none.yaml");
    writeFileSync(rules, stringify({ groups: [] }));
    const tests = join(dir, "panels.test.yaml");
    writeFileSync(
      tests,
      stringify({
        rule_files: [rules],
        evaluation_interval: "1m",
        tests: [{ interval: "1m", input_series, promql_expr_test: promqlTests }],
      }),
    );
    const res = spawnSync("promtool", ["test", "rules", tests], { encoding: "utf8" });
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it("finds no label of ours renamed by the scrape (exported_…)", () => {
    const clashes = [...labelsOf].flatMap(([metric, labels]) =>
      [...labels].filter((l) => TARGET_LABELS.includes(l)).map((l) => `${metric}{${l}}`),
    );
    expect(clashes).toEqual([]);
  });
});
