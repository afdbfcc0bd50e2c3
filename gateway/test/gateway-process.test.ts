// The gateway as its own process, started by the real CLI: it loads only the modules the CLI
// loads. Every other gateway test runs the gateway inside the test process, where the test's
// own imports (undici's index, for its request()) are loaded too and can hide a module the
// gateway needs but never loads itself — as once happened to the active health checks,
// which called a method only undici's index puts on dispatchers, and so failed every check
// in a real gateway while every in-process test passed. Here: a pool with active health
// checks serves, an endpoint failing its checks leaves the rotation, and comes back; and a
// CEL condition, whose module the gateway loads only when a snapshot has one, is applied.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { cleanupAfterAll, eventually } from "../../test-support/index.ts";
import { pool, simpleRoute, startUpstream, type Upstream } from "./harness.ts";
import { spawnGateway } from "./spawned-gateway.ts";

const { defer } = cleanupAfterAll();

let url: string;
let admin: string;
const health = { a: 200, b: 200 };
const upstreams: Record<"a" | "b", Upstream> = {} as never;

async function answer(): Promise<{ status: number; from: string }> {
  const res = await request(`${url}/`, { headers: { host: "app.test" } });
  const body = await res.body.text();
  return { status: res.statusCode, from: res.statusCode === 200 ? String(JSON.parse(body).name) : "" };
}

async function answers(n: number) {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { status, from } = await answer();
    out.push(status === 200 ? from : String(status));
  }
  return out;
}

async function endpoints(): Promise<Record<string, boolean>> {
  const res = await request(`${admin}/status`);
  const status = (await res.body.json()) as {
    pools: { id: string; endpoints: { endpoint: string; activeHealthy: boolean }[] }[];
  };
  const p = status.pools.find((x) => x.id === "test/app");
  const port = (name: "a" | "b") => `127.0.0.1:${upstreams[name].port}`;
  const of = (name: "a" | "b") => p?.endpoints.find((e) => e.endpoint === port(name))?.activeHealthy ?? false;
  return { a: of("a"), b: of("b") };
}

beforeAll(async () => {
  for (const name of ["a", "b"] as const) {
    upstreams[name] = await startUpstream(name, (req, res) => {
      req.resume();
      if (req.url === "/healthz") {
        res.statusCode = health[name];
        return res.end(health[name] === 200 ? "ok" : "failing");
      }
      const body = JSON.stringify({ name });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    });
    defer(() => upstreams[name].close());
  }
  const dir = mkdtempSync(join(tmpdir(), "sluice-process-"));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const objects = [
    pool("app", [upstreams.a.port, upstreams.b.port], {
      healthCheck: {
        active: {
          path: "/healthz",
          interval: "100ms",
          timeout: "80ms",
          healthyThreshold: 1,
          unhealthyThreshold: 2,
        },
      },
    }),
    simpleRoute("app", "app", {}, ["app.test"]),
    simpleRoute("guarded", "app", {}, ["guarded.test"]),
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "AuthzPolicy",
      metadata: { name: "guarded", namespace: "test" },
      spec: {
        targetRefs: [{ kind: "GatewayRoute", name: "guarded" }],
        rules: [{ name: "no-deletes", action: "Deny", when: ['request.method == "DELETE"'] }],
        defaultAction: "Allow",
      },
    },
  ];
  writeFileSync(join(dir, "resources.yaml"), objects.map((o) => stringify(o)).join("---\n"));
  const gateway = await spawnGateway(dir);
  defer(() => gateway.child.kill("SIGKILL"));
  url = gateway.url;
  admin = gateway.admin;
}, 60_000);

describe("a gateway process with active health checks", () => {
  it("checks pass: both endpoints are healthy and serve", async () => {
    // Several intervals of checks: endpoints failing them would be out by now.
    await new Promise((r) => setTimeout(r, 500));
    expect(await endpoints()).toEqual({ a: true, b: true });
    expect(new Set(await answers(10))).toEqual(new Set(["a", "b"]));
    // The checks reached the upstreams, as the health check's user agent.
    const checks = upstreams.a.requests.filter((r) => r.url === "/healthz");
    expect(checks.length).toBeGreaterThan(1);
    expect(checks[0]?.headers["user-agent"]).toBe("sluice-health-check");
  });

  it("an endpoint failing its checks leaves the rotation, and returns when they pass", async () => {
    health.b = 503;
    await eventually("b to be marked unhealthy", async () => !(await endpoints()).b, { timeoutMs: 5000 });
    expect(new Set(await answers(10))).toEqual(new Set(["a"]));
    health.a = 500;
    await eventually("a to be marked unhealthy", async () => !(await endpoints()).a, { timeoutMs: 5000 });
    expect(new Set(await answers(3))).toEqual(new Set(["503"]));
    health.a = 200;
    health.b = 200;
    await eventually("both back", async () => {
      const e = await endpoints();
      return e.a && e.b;
    });
    expect(new Set(await answers(10))).toEqual(new Set(["a", "b"]));
  });
});

describe("a gateway process with a CEL condition", () => {
  it("applies it: a DELETE is refused, a GET passes", async () => {
    const status = async (method: "GET" | "DELETE") => {
      const res = await request(`${url}/`, { method, headers: { host: "guarded.test" } });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await status("DELETE")).toBe(403);
    expect(await status("GET")).toBe(200);
  });
});
