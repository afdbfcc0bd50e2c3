// A configuration above the API server's 1 MiB object limit (compressed), published by the
// operator as chunk Secrets behind a manifest (docs/adr/0007) and served by a real gateway
// process — both running as their ServiceAccounts with config/rbac — and an update that
// switches the gateway from one whole snapshot to the next, never anything in between.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { constants, gunzipSync } from "node:zlib";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  CHUNK_DATA_KEY,
  CHUNK_OWNER_LABEL,
  readManifest,
  type SnapshotManifest,
} from "../core/api/snapshot/snapshot-chunks.ts";
import { installCrds } from "./harness/install.ts";
import { KubeClient } from "./harness/kube-client.ts";
import { serviceAccountKubeconfig } from "./harness/service-account.ts";
import {
  type GatewayProcess,
  get,
  type OperatorProcess,
  SluiceProcesses,
} from "./harness/sluice-processes.ts";

const NS = "e2e-chunks";
const SYSTEM = "sluice-system";
const SECRET = "sluice-snapshot";
const HOST = "big.example.com";
/** Routes × matches × path length of random characters: about 1.9 MiB once gzipped. */
const ROUTES = 160;
const MATCHES = 16;
const PATH_CHARS = 1000;

const procs = new SluiceProcesses();
const until = procs.until.bind(procs);
let kube: KubeClient;
let upstream: Server;
let upstreamPort: number;
let operator: OperatorProcess;
let gateway: GatewayProcess;
/** The snapshot Secret as the first test left it (the manifest of the first chunked snapshot). */
let firstSecret: { data: Record<string, string>; version: string } | undefined;

/** Random path characters compress badly, as real configurations at scale do not; so few objects suffice. */
const randomPath = () => `/${randomBytes((PATH_CHARS * 3) / 4).toString("base64url")}`;
const paths = Array.from({ length: ROUTES }, () => Array.from({ length: MATCHES }, randomPath));

const route = (i: number, routePaths: string[]) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "GatewayRoute",
  metadata: { name: `big-${String(i).padStart(3, "0")}`, namespace: NS },
  spec: {
    hostnames: [HOST],
    rules: [
      {
        matches: routePaths.map((value) => ({ path: { type: "PathPrefix", value } })),
        backendRefs: [{ name: "big" }],
      },
    ],
  },
});

const secretPath = (name: string) => `/api/v1/namespaces/${SYSTEM}/secrets/${name}`;

async function manifestNow(): Promise<{
  manifest: SnapshotManifest | undefined;
  version: string | undefined;
}> {
  const res = await kube.send("GET", secretPath(SECRET));
  if (res.status !== 200) return { manifest: undefined, version: undefined };
  const s = res.body as { data?: Record<string, string>; metadata: { annotations?: Record<string, string> } };
  return { manifest: readManifest(s.data), version: s.metadata.annotations?.["sluice.dev/snapshot-version"] };
}

async function gatewayVersion(): Promise<string | undefined> {
  try {
    const res = await request(`${gateway.admin}/status`);
    return ((await res.body.json()) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function chunkData(name: string): Promise<Buffer> {
  const res = await kube.send("GET", secretPath(name));
  expect(res.status).toBe(200);
  return Buffer.from((res.body as { data: Record<string, string> }).data[CHUNK_DATA_KEY] ?? "", "base64");
}

beforeAll(async () => {
  kube = new KubeClient(inject("kubeconfig"));
  await installCrds(kube, [NS, SYSTEM]);
  upstream = createServer((req, res) => res.end(`upstream saw ${req.url?.slice(0, 40)}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  const operatorKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-operator", procs.logs);
  const gatewayKubeconfig = serviceAccountKubeconfig(kube, SYSTEM, "sluice-gateway", procs.logs);
  operator = await procs.operator("chunks-operator", operatorKubeconfig, SYSTEM);
  gateway = await procs.gateway("chunks-gateway", gatewayKubeconfig, `${SYSTEM}/${SECRET}`);
});

afterAll(async () => {
  // Leave a small world behind for the next test file: the operator publishes it inline.
  kube.kubectl(
    "delete",
    "gatewayroutes,backendpools",
    "--all",
    "-n",
    NS,
    "--ignore-not-found",
    "--wait=false",
  );
  await until(
    "the operator to publish a small snapshot inline again",
    async () => {
      const { manifest, version } = await manifestNow();
      return version !== undefined && manifest === undefined ? version : undefined;
    },
    60_000,
  ).catch(() => undefined);
  await procs.stopAll();
  kube.kubectl(
    "delete",
    "secrets",
    "-n",
    SYSTEM,
    "-l",
    `${CHUNK_OWNER_LABEL}=${SECRET}`,
    "--ignore-not-found",
  );
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe("a snapshot above the 1 MiB object limit", () => {
  it("is published as immutable chunks behind a manifest, and a real gateway serves it", async () => {
    kube.apply([
      {
        apiVersion: "sluice.dev/v1alpha1",
        kind: "BackendPool",
        metadata: { name: "big", namespace: NS },
        spec: { endpoints: [{ address: "127.0.0.1", port: upstreamPort }] },
      },
      ...paths.map((p, i) => route(i, p)),
    ]);
    // kubectl creates the objects one by one, so the operator publishes growing worlds on
    // the way: wait for the gateway to serve one with every route.
    const { manifest, version, parts } = await until(
      "the gateway to serve a chunked snapshot with every route",
      async () => {
        const now = await manifestNow();
        if (!now.manifest || now.manifest.chunks.length < 2 || (await gatewayVersion()) !== now.version)
          return;
        const parts = await Promise.all(now.manifest.chunks.map((c) => chunkData(c.name)));
        const whole = gunzipSync(Buffer.concat(parts)).toString("utf8");
        return paths.flat().every((p) => whole.includes(p)) ? { ...now, parts } : undefined;
      },
      120_000,
    );
    if (!manifest) throw new Error("no manifest");
    expect(manifest.size).toBeGreaterThan(1024 * 1024); // above the limit of one object
    expect(manifest.version).toBe(version);

    // Each chunk: immutable, owned by the snapshot Secret.
    const owner = await kube.send("GET", secretPath(SECRET));
    const uid = (owner.body as { metadata: { uid: string } }).metadata.uid;
    for (const c of manifest.chunks) {
      const res = await kube.send("GET", secretPath(c.name));
      const chunk = res.body as { immutable?: boolean; metadata: { ownerReferences?: { uid: string }[] } };
      expect(chunk.immutable).toBe(true);
      expect(chunk.metadata.ownerReferences?.[0]?.uid).toBe(uid);
    }

    // A route that only the last chunk carries: everything before it, decompressed, lacks it.
    const head = gunzipSync(Buffer.concat(parts.slice(0, -1)), {
      finishFlush: constants.Z_SYNC_FLUSH,
    }).toString("utf8");
    const inLast = paths.flat().find((p) => !head.includes(p));
    expect(inLast).toBeDefined();
    const served = await get(gateway.url, `${inLast}/x`, HOST);
    expect(served).toEqual({ status: 200, body: `upstream saw ${`${inLast}/x`.slice(0, 40)}` });
  });

  it("switches the gateway from one whole snapshot to the next, never to anything between", async () => {
    const before = await manifestNow();
    const raw = (await kube.send("GET", secretPath(SECRET))).body as { data: Record<string, string> };
    firstSecret = { data: raw.data, version: before.version ?? "" };
    const oldVersion = before.version;
    const oldChunks = before.manifest?.chunks.map((c) => c.name) ?? [];
    expect(await gatewayVersion()).toBe(oldVersion);
    // Change the first route (early in the snapshot: most chunks change), one path of it
    // being `added`. One object, so one write: the API server has no transaction across
    // objects, and two could be compiled apart (a world that really existed in between).
    const changed = paths[0]?.map(randomPath) ?? [];
    const added = [randomPath()];
    kube.apply([route(0, [...changed.slice(0, -1), ...added])]);

    const seen = new Set<string | undefined>();
    const newVersion = await until(
      "the gateway to serve the updated snapshot",
      async () => {
        const v = await gatewayVersion();
        seen.add(v);
        // While the old snapshot serves, the new route is unknown; once the new one serves,
        // every part of it does: the changed route and the added one.
        const [oldRoute, newRoute, addedRoute] = await Promise.all([
          get(gateway.url, `${paths[0]?.[0]}/x`, HOST),
          get(gateway.url, `${changed[0]}/x`, HOST),
          get(gateway.url, `${added[0]}/x`, HOST),
        ]);
        if ((await gatewayVersion()) !== v) return undefined; // switched between requests
        if (v === oldVersion) {
          expect([oldRoute.status, newRoute.status, addedRoute.status]).toEqual([200, 404, 404]);
          return undefined;
        }
        expect([oldRoute.status, newRoute.status, addedRoute.status]).toEqual([404, 200, 200]);
        return v;
      },
      90_000,
    );
    const after = await manifestNow();
    expect(after.version).toBe(newVersion);
    expect([...seen]).toEqual([oldVersion, newVersion]);

    // The chunks only the old manifest named stay for the grace period (a gateway may be mid-read).
    const retired = oldChunks.filter((n) => !after.manifest?.chunks.some((c) => c.name === n));
    expect(retired.length).toBeGreaterThan(0);
    for (const name of retired) expect((await kube.send("GET", secretPath(name))).status).toBe(200);
    expect(operator.child.exitCode).toBeNull();
  });

  it("never loads a manifest whose chunk is missing: the last good snapshot serves until the chunk appears", async () => {
    if (!firstSecret) throw new Error("the previous test did not run");
    const serving = await gatewayVersion();
    const manifest = readManifest(firstSecret.data);
    const last = manifest?.chunks.at(-1);
    if (!manifest || !last || serving === firstSecret.version) throw new Error("nothing to go back to");
    // Put the first snapshot's manifest back by hand, its last chunk taken away meanwhile.
    const chunk = (await kube.send("GET", secretPath(last.name))).body as Record<string, unknown>;
    expect((await kube.send("DELETE", secretPath(last.name))).status).toBe(200);
    const current = (await kube.send("GET", secretPath(SECRET))).body as {
      metadata: Record<string, unknown>;
    };
    const put = await kube.send("PUT", secretPath(SECRET), { ...current, data: firstSecret.data });
    expect(put.status).toBe(200);
    await until("the gateway to report the missing chunk", () =>
      readFileSync(join(procs.logs, "chunks-gateway.log"), "utf8").includes(last.name) ? true : undefined,
    );
    expect(await gatewayVersion()).toBe(serving);
    // The chunk comes back (same name, same content): the retry loads the whole snapshot.
    const { metadata } = chunk as { metadata: Record<string, unknown> };
    const recreated = await kube.send("POST", `/api/v1/namespaces/${SYSTEM}/secrets`, {
      ...chunk,
      metadata: { name: metadata.name, namespace: SYSTEM, labels: metadata.labels },
    });
    expect(recreated.status).toBe(201);
    const version = firstSecret.version;
    await until("the gateway to serve the restored snapshot", async () =>
      (await gatewayVersion()) === version ? version : undefined,
    );
  });
});
