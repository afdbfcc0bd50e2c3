// What the operator and a gateway write to stdout, as processes started by the real CLI
// against the real API server, read the way a strict log pipeline reads it: every line one
// JSON object with each key once (Elasticsearch rejects a document with a key twice), the
// level as a name and the time as ISO-8601 (docs/observability.md, "Logs").
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseStrictJson } from "../test-support/strict-json.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { get, SluiceProcesses } from "./harness/sluice-processes.ts";

const NS = "e2e-logs";
const SYSTEM = "e2e-logs-system";
const procs = new SluiceProcesses();
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type Line = Record<string, unknown>;
let upstream: Server;
const lines = new Map<string, Line[]>();

/** Every line of a process's stdout and stderr, each parsed strictly (a bad one fails here). */
function read(name: string): Line[] {
  const text = readFileSync(join(procs.logs, `${name}.log`), "utf8");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l, i) => {
      try {
        return parseStrictJson(l) as Line;
      } catch (err) {
        throw new Error(`${name}.log line ${i + 1}: ${(err as Error).message}`);
      }
    });
}

beforeAll(async () => {
  const kubeconfig = inject("kubeconfig");
  const kube = new KubeClient(kubeconfig);
  await installCrds(kube, [NS, SYSTEM]);
  upstream = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const port = (upstream.address() as AddressInfo).port;
  await procs.operator("operator", kubeconfig, SYSTEM);
  const gateway = await procs.gateway("gateway", kubeconfig, `${SYSTEM}/sluice-snapshot`);
  await kube.apply([
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "BackendPool",
      metadata: { name: "app", namespace: NS },
      spec: { endpoints: [{ address: "127.0.0.1", port }] },
    },
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "GatewayRoute",
      metadata: { name: "app", namespace: NS },
      spec: { hostnames: ["logs.example.com"], rules: [{ backendRefs: [{ name: "app" }] }] },
    },
    // Not Accepted: the operator logs the condition it sets, naming the object.
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "GatewayRoute",
      metadata: { name: "orphan", namespace: NS },
      spec: { hostnames: ["orphan.example.com"], rules: [{ backendRefs: [{ name: "missing" }] }] },
    },
  ]);
  await procs.until("the gateway to serve the route", async () => {
    const res = await get(gateway.url, "/", "logs.example.com");
    return res.status === 200 || undefined;
  });
  await procs.until(
    "the operator to log the conditions it set",
    () => readFileSync(join(procs.logs, "operator.log"), "utf8").includes('"name":"orphan"') || undefined,
  );
  await procs.stopAll(); // the shutdown lines too
  for (const name of ["operator", "gateway"]) lines.set(name, read(name));
}, 120_000);

afterAll(async () => {
  await procs.stopAll();
  await new Promise((resolve) => upstream?.close(resolve));
});

/** Every line of `name`'s log: the format, and the process named in `logger`. */
function checkFormat(name: string, logger: string) {
  const all = lines.get(name) ?? [];
  expect(all.length).toBeGreaterThan(3);
  for (const line of all) {
    expect(Object.keys(line).slice(0, 2), JSON.stringify(line)).toEqual(["level", "time"]);
    expect(LEVELS, JSON.stringify(line)).toContain(line.level);
    expect(line.time, JSON.stringify(line)).toMatch(ISO);
    expect(typeof line.msg, JSON.stringify(line)).toBe("string");
    // Every line but the access log's names the process.
    if (line.msg !== "access") expect(line.logger, JSON.stringify(line)).toBe(logger);
  }
}

describe("every line is one JSON object, each key once, level as a name, time as ISO-8601 first", () => {
  it("the operator's", () => checkFormat("operator", "sluice-operator"));

  it("the gateway's", () => checkFormat("gateway", "sluice-gateway"));
});

describe("what the lines say", () => {
  it("the operator names the objects whose conditions it set", () => {
    const set = (lines.get("operator") ?? []).filter((l) => l.msg === "condition set");
    expect(set).toContainEqual(
      expect.objectContaining({
        kind: "GatewayRoute",
        namespace: NS,
        name: "orphan",
        logger: "sluice-operator",
      }),
    );
  });

  it("the gateway's access line is in the same format as its other lines", () => {
    const access = (lines.get("gateway") ?? []).filter((l) => l.msg === "access");
    expect(access).toContainEqual(
      expect.objectContaining({ level: "info", route: `${NS}/app`, status: 200, method: "GET" }),
    );
  });
});
