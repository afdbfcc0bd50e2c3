// Fail closed on a real API server: the table of invalid edits of
// gateway/test/invalid-edits.ts, applied with kubectl to a world where /admin needs an API
// key and /jwt a JWT, served by the operator and a gateway running as local processes with
// their ServiceAccounts. Each edit is either refused by kubectl naming the field, or
// accepted by the API server and then given a condition naming the field by the operator —
// and in both cases no request without the credential reaches the upstream. Then the
// operator is restarted while an object is kept at its last good version: it stays kept.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { INVALID_EDITS, OPS_KEY, protectedWorld, signedToken } from "../gateway/test/invalid-edits.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import { type GatewayProcess, type OperatorProcess, SluiceProcesses } from "./harness/sluice-processes.ts";

const NS = "e2e-fail-closed";
const SYSTEM = "sluice-system";
const procs = new SluiceProcesses();
const until = procs.until.bind(procs);
let kube: KubeClient;
let upstream: Server;
let reached = 0;
let world: ReturnType<typeof protectedWorld>;
let gateway: GatewayProcess;
let operator: OperatorProcess;
let operatorKubeconfig: string;

const HOST = "fail-closed.e2e.test";

/** A request's status through the gateway (0 while it does not accept connections yet). */
async function status(path: string, method: string, headers: Record<string, string> = {}) {
  try {
    const res = await request(`${gateway.url}${path}`, {
      method: method as "GET",
      headers: { host: HOST, ...headers },
    });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 0;
  }
}

/** What anonymous requests get (and whether any reached the upstream), and what credentials get. */
async function probe() {
  const before = reached;
  const anonymous = [
    await status("/admin/users", "GET"),
    await status("/admin/users", "POST"),
    await status("/jwt/orders", "GET"),
    await status("/jwt/orders", "GET", { "x-client": "cli" }),
  ];
  const reachedAnonymously = reached - before;
  const admin = await status("/admin/users", "GET", { "x-api-key": OPS_KEY });
  const jwt = await status("/jwt/orders", "GET", { authorization: `Bearer ${await signedToken()}` });
  return { anonymous, reachedAnonymously, admin, jwt };
}

/** The version annotation of the published snapshot Secret ("" while there is none). */
function snapshotVersion(): string {
  try {
    return kube.kubectl(
      "get",
      "secret",
      "sluice-snapshot",
      "-n",
      SYSTEM,
      "-o",
      "jsonpath={.metadata.annotations.sluice\\.dev/snapshot-version}",
    );
  } catch {
    return "";
  }
}

async function gatewayVersion(): Promise<string | undefined> {
  try {
    const res = await request(`${gateway.admin}/status`);
    return ((await res.body.json()) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Waits until the gateway serves what the operator last published. */
const gatewayCaughtUp = () =>
  until("the gateway to serve the published snapshot", async () => {
    const published = snapshotVersion();
    return published !== "" && (await gatewayVersion()) === published ? published : undefined;
  });

/** Every condition message of the Sluice objects in the namespace whose status is False. */
function falseConditions(): string[] {
  const list = JSON.parse(kube.kubectl("get", "sluice", "-n", NS, "-o", "json")) as {
    items: { status?: { conditions?: { status: string; message: string }[] } }[];
  };
  return list.items.flatMap((o) =>
    (o.status?.conditions ?? []).filter((c) => c.status === "False").map((c) => c.message),
  );
}

async function applyValidWorld() {
  kube.apply(world);
  await until("the valid world to be served and protected", async () => {
    if (falseConditions().length > 0) return undefined;
    await gatewayCaughtUp();
    const p = await probe();
    return p.admin === 200 && p.jwt === 200 && p.anonymous.every((s) => s === 401) ? p : undefined;
  });
}

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  upstream = createServer((req, res) => {
    reached++;
    res.end(`upstream saw ${req.url}`);
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  world = protectedWorld({ address: "127.0.0.1", port: (upstream.address() as AddressInfo).port }, NS, HOST);
  operatorKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  const gatewayKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", procs.logs);
  operator = await procs.operator("fc-operator-1", operatorKubeconfig, SYSTEM);
  gateway = await procs.gateway("fc-gateway-1", gatewayKubeconfig, `${SYSTEM}/sluice-snapshot`);
  await applyValidWorld();
});

afterAll(async () => {
  await procs.stopAll();
  // Nothing of this world stays behind for the next test file (no namespace controller runs).
  kube?.kubectl(
    "delete",
    "gatewayroutes,backendpools,ratelimitpolicies,apikeys,authzpolicies,secrets",
    "--all",
    "-n",
    NS,
  );
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

describe("an invalid edit on a real API server never opens a protected route", () => {
  it.each(INVALID_EDITS)("$name", async (edit) => {
    await applyValidWorld();
    const byName = Object.fromEntries(structuredClone(world).map((o) => [o.metadata.name, o]));
    edit.edit(byName);
    let refusedByKubectl: string | undefined;
    try {
      kube.apply(Object.values(byName));
    } catch (err) {
      refusedByKubectl = String((err as { stderr?: string }).stderr ?? err);
    }
    if (refusedByKubectl !== undefined) {
      // Refused at apply time: the error names the field (or the kind/apiVersion).
      expect(refusedByKubectl).toContain(edit.field.replace(/\[\d+\]$/, ""));
    } else {
      // Stored: the operator's condition names the field.
      const told = await until(`a condition naming ${edit.field}`, () =>
        falseConditions().find((m) => m.includes(edit.field)),
      );
      expect(told).toContain(edit.field);
      await gatewayCaughtUp();
    }
    const p = await probe();
    expect(p.reachedAnonymously).toBe(0);
    for (const s of p.anonymous) expect([401, 403, 503]).toContain(s);
    expect({ admin: p.admin, jwt: p.jwt }).toEqual({ admin: 200, jwt: 200, ...edit.withCredential });
  });

  it("keeps an object at its last good version across an operator restart", async () => {
    await applyValidWorld();
    const policy = structuredClone(
      world.find((o) => o.metadata.name === "admin-auth"),
    ) as (typeof world)[number];
    policy.spec.rules[0].when = ["request.method == "];
    kube.apply([policy]);
    await until("admin-auth's Fallback condition", () => {
      const v = kube.kubectl(
        "get",
        "authzpolicy",
        "admin-auth",
        "-n",
        NS,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Fallback")].message}',
      );
      return v.includes("is still served") ? v : undefined;
    });
    const kept = snapshotVersion();
    // The operator restarts (a new process with no memory): it reads the published snapshot
    // back, so the policy's last good version is still what it compiles and publishes.
    await new Promise<void>((resolve) => {
      operator.child.once("exit", () => resolve());
      operator.child.kill("SIGTERM");
    });
    operator = await procs.operator("fc-operator-2", operatorKubeconfig, SYSTEM);
    // Leading and compiled: what it compiled from the cluster plus the snapshot it read back.
    const compiled = await until("the new operator to lead and compile", async () => {
      const res = await request(`${operator.admin}/status`).catch(() => undefined);
      if (res?.statusCode !== 200) return undefined;
      const s = (await res.body.json()) as { leader: boolean; version: string | null };
      return s.leader && s.version ? s.version : undefined;
    });
    expect(compiled).toBe(kept);
    expect(snapshotVersion()).toBe(kept);
    await gatewayCaughtUp();
    const p = await probe();
    expect(p).toMatchObject({ reachedAnonymously: 0, admin: 200, jwt: 200 });
  });
});
