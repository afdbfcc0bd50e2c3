// The API client and informer against an HTTPS server on loopback standing in for the API
// server: which credentials and TLS material a kubeconfig leads to, and the informer's
// list-then-watch contract (events, resuming a watch the server ends, relisting on 410 with
// the vanished objects reported as deletes). The real API server's side — restarts, 410
// after one — is in e2e/apiserver-restart.test.ts and the operator's e2e tests.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { ApiClient } from "./api-client.ts";
import { createInformer } from "./informer.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-api-client-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A certificate signed by its own key (its own CA), made with openssl. */
function selfSigned(name: string, san: string) {
  const file = (ext: string) => join(dir, `${name}.${ext}`);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${name}`, "-keyout"].concat(
      [file("key"), "-out", file("crt"), "-addext", `subjectAltName=${san}`],
    ),
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return {
    cert: readFileSync(file("crt")),
    key: readFileSync(file("key")),
    certFile: file("crt"),
    keyFile: file("key"),
  };
}

const serverCert = selfSigned("apiserver", "IP:127.0.0.1");
const clientCert = selfSigned("operator", "DNS:operator");
const stranger = selfSigned("stranger", "IP:127.0.0.1");

interface Seen {
  path: string;
  authorization: string | undefined;
  clientCN: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let port: number;
let handler: Handler;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer(
    { cert: serverCert.cert, key: serverCert.key, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({
        path: req.url ?? "",
        authorization: req.headers.authorization,
        clientCN: peer?.subject?.CN?.toString(),
      });
      handler(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
afterEach(() => {
  seen.length = 0;
  server.closeAllConnections();
});

function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  name = "config",
): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "test",
      contexts: [{ name: "test", context: { cluster: "c", user: "u" } }],
      clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${port}`, ...cluster } }],
      users: [{ name: "u", user }],
    }),
  );
  return file;
}

const caData = serverCert.cert.toString("base64");
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("what a kubeconfig leads to", () => {
  it("sends its bearer token to the server its CA vouches for", async () => {
    handler = (_req, res) => json(res, 200, { kind: "Status", ok: true });
    const client = ApiClient.load(kubeconfig({ "certificate-authority-data": caData }, { token: "t0ken" }));
    expect(await client.send("GET", "/version")).toEqual({ kind: "Status", ok: true });
    expect(seen).toEqual([{ path: "/version", authorization: "Bearer t0ken", clientCN: undefined }]);
  });

  it("refuses a server its CA does not vouch for", async () => {
    handler = (_req, res) => json(res, 200, {});
    const wrongCa = stranger.cert.toString("base64");
    const client = ApiClient.load(kubeconfig({ "certificate-authority-data": wrongCa }, { token: "t0ken" }));
    await expect(client.send("GET", "/version")).rejects.toThrow(/certificate/);
    expect(seen).toEqual([]);
  });

  it("presents its client certificate, with files relative to the kubeconfig", async () => {
    handler = (_req, res) => json(res, 200, {});
    const client = ApiClient.load(
      kubeconfig(
        { "certificate-authority": "apiserver.crt" },
        { "client-certificate": "operator.crt", "client-key": clientCert.keyFile },
      ),
    );
    await client.send("GET", "/version");
    expect(seen).toEqual([{ path: "/version", authorization: undefined, clientCN: "operator" }]);
  });

  it("reads a tokenFile", async () => {
    handler = (_req, res) => json(res, 200, {});
    writeFileSync(join(dir, "token"), "from-file\n");
    const client = ApiClient.load(
      kubeconfig({ "certificate-authority-data": caData }, { tokenFile: "token" }),
    );
    await client.send("GET", "/version");
    expect(seen[0]?.authorization).toBe("Bearer from-file");
  });

  it("answers a non-2xx status with its code and message", async () => {
    handler = (_req, res) => json(res, 404, { kind: "Status", message: 'secrets "x" not found' });
    const client = ApiClient.load(kubeconfig({ "certificate-authority-data": caData }, { token: "t" }));
    await expect(client.send("GET", "/api/v1/namespaces/a/secrets/x")).rejects.toMatchObject({
      code: "SLUICE_KUBERNETES_API_STATUS",
      status: 404,
      message: expect.stringContaining('secrets "x" not found'),
    });
  });

  it("names the file when its current context is missing", () => {
    const file = join(dir, "broken");
    writeFileSync(file, stringify({ "current-context": "nowhere", contexts: [] }));
    expect(() => ApiClient.load(file)).toThrow(
      expect.objectContaining({ code: "SLUICE_CONFIG_INVALID", message: expect.stringContaining(file) }),
    );
  });

  it("says so when there is neither a kubeconfig nor a pod to take the service account from", () => {
    const saved = { ...process.env };
    try {
      process.env.KUBECONFIG = "";
      process.env.HOME = dir; // no .kube/config in it
      delete process.env.KUBERNETES_SERVICE_HOST;
      expect(() => ApiClient.load()).toThrow(
        expect.objectContaining({
          code: "SLUICE_CONFIG_INVALID",
          message: expect.stringContaining("KUBERNETES_SERVICE_HOST"),
        }),
      );
    } finally {
      process.env = saved;
    }
  });
});

describe("the informer", () => {
  interface Obj {
    metadata: { name: string; namespace: string; resourceVersion: string };
  }
  const obj = (name: string, rv: number): Obj => ({
    metadata: { name, namespace: "ns", resourceVersion: String(rv) },
  });

  /** The list the server answers, and the watches it holds open for the test to write to. */
  function apiServer(list: () => { items: Obj[]; rv: number }) {
    const watches: { query: URLSearchParams; res: ServerResponse }[] = [];
    let lists = 0;
    handler = (req, res) => {
      const url = new URL(req.url ?? "", "https://x");
      if (url.searchParams.get("watch") !== "true") {
        lists++;
        const { items, rv } = list();
        json(res, 200, { kind: "List", metadata: { resourceVersion: String(rv) }, items });
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      watches.push({ query: url.searchParams, res });
    };
    const send = (type: string, object: unknown) =>
      watches.at(-1)?.res.write(`${JSON.stringify({ type, object })}\n`);
    return { watches, send, lists: () => lists };
  }

  function record() {
    const events: string[] = [];
    const handlers = {
      add: (o: Obj) => events.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
      update: (o: Obj) => events.push(`update ${o.metadata.name}@${o.metadata.resourceVersion}`),
      delete: (o: Obj) => events.push(`delete ${o.metadata.name}`),
      synced: () => events.push("synced"),
      error: (err: unknown) => events.push(`error ${String(err)}`),
    };
    return { events, handlers };
  }

  const client = () => ApiClient.load(kubeconfig({ "certificate-authority-data": caData }, { token: "t" }));

  it("lists, then watches from the list's version, keeping its cache in step", async () => {
    const api = apiServer(() => ({ items: [obj("a", 1), obj("b", 2)], rv: 5 }));
    const { events, handlers } = record();
    const informer = createInformer<Obj>(
      client(),
      "/api/v1/secrets",
      { fieldSelector: "metadata.name=a" },
      handlers,
    );
    await informer.start();
    try {
      expect(events).toEqual(["add a@1", "add b@2", "synced"]);
      expect(informer.synced).toBe(true);
      await vi.waitFor(() => expect(api.watches).toHaveLength(1));
      const q = api.watches[0]?.query;
      expect(q?.get("resourceVersion")).toBe("5");
      expect(q?.get("fieldSelector")).toBe("metadata.name=a");
      expect(q?.get("allowWatchBookmarks")).toBe("true");
      api.send("MODIFIED", obj("a", 6));
      api.send("ADDED", obj("c", 7));
      api.send("DELETED", obj("b", 8));
      api.send("BOOKMARK", { metadata: { resourceVersion: "9" } });
      await vi.waitFor(() => expect(events).toContain("delete b"));
      expect(events.slice(3)).toEqual(["update a@6", "add c@7", "delete b"]);
      expect(informer.list().map((o) => o.metadata.name)).toEqual(["a", "c"]);
      expect(informer.get("a", "ns")?.metadata.resourceVersion).toBe("6");
      // The server ends the watch (its timeout): the next one goes on from the bookmark, no relist.
      api.watches[0]?.res.end();
      await vi.waitFor(() => expect(api.watches).toHaveLength(2));
      expect(api.watches[1]?.query.get("resourceVersion")).toBe("9");
      expect(api.lists()).toBe(1);
    } finally {
      await informer.stop();
    }
  });

  it("lists page by page at the first page's version, and starts over when a continue token expired", async () => {
    const all = Array.from({ length: 1_201 }, (_, i) => obj(`o${String(i).padStart(4, "0")}`, i + 1));
    const pages: URLSearchParams[] = [];
    let expireOnce = true;
    const watches: URLSearchParams[] = [];
    handler = (req, res) => {
      const q = new URL(req.url ?? "", "https://x").searchParams;
      if (q.get("watch") === "true") {
        watches.push(q);
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        return;
      }
      pages.push(q);
      const from = Number(q.get("continue") ?? 0);
      // The first continued page is answered as a token etcd compacted away.
      if (from > 0 && expireOnce) {
        expireOnce = false;
        return json(res, 410, { kind: "Status", code: 410, reason: "Expired", message: "continue expired" });
      }
      const limit = Number(q.get("limit"));
      const to = Math.min(from + limit, all.length);
      const metadata = { resourceVersion: "9000", ...(to < all.length ? { continue: String(to) } : {}) };
      json(res, 200, { kind: "List", metadata, items: all.slice(from, to) });
    };
    const { events, handlers } = record();
    const informer = createInformer<Obj>(client(), "/api/v1/secrets", { labelSelector: "team=a" }, handlers);
    const started = informer.start();
    try {
      await started;
      await vi.waitFor(() => expect(watches).toHaveLength(1));
      // Expired at the second page: no error reported, the list started over and completed.
      expect(events.filter((e) => e.startsWith("error"))).toEqual([]);
      expect(pages.map((q) => q.get("continue"))).toEqual([null, "500", null, "500", "1000"]);
      expect(pages.every((q) => q.get("limit") === "500" && q.get("labelSelector") === "team=a")).toBe(true);
      expect(informer.list()).toHaveLength(1_201);
      expect(events.filter((e) => e.startsWith("add"))).toHaveLength(1_201);
      expect(events.at(-1)).toBe("synced");
      expect(watches[0]?.get("resourceVersion")).toBe("9000");
    } finally {
      await informer.stop();
    }
  });

  it("asks for metadata only when told to, and keeps each object as the transform leaves it", async () => {
    const accepts: (string | undefined)[] = [];
    const api = apiServer(() => ({ items: [{ ...obj("a", 1), data: { key: "secret" } } as Obj], rv: 1 }));
    const serve = handler;
    handler = (req, res) => {
      accepts.push(req.headers.accept);
      serve(req, res);
    };
    const { events, handlers } = record();
    const informer = createInformer<Obj>(
      client(),
      "/api/v1/secrets",
      { metadataOnly: true, transform: (o) => ({ metadata: o.metadata }) },
      handlers,
    );
    await informer.start();
    try {
      await vi.waitFor(() => expect(api.watches).toHaveLength(1));
      api.send("ADDED", { ...obj("b", 2), data: { key: "secret" } });
      await vi.waitFor(() => expect(events).toContain("add b@2"));
      expect(accepts[0]).toMatch(/^application\/json;as=PartialObjectMetadataList;g=meta\.k8s\.io;v=v1/);
      expect(accepts[1]).toMatch(/^application\/json;as=PartialObjectMetadata;g=meta\.k8s\.io;v=v1/);
      expect(informer.list()).toEqual([obj("a", 1), obj("b", 2)]);
    } finally {
      await informer.stop();
    }
  });

  it("counts an optional kind without its CRD as listed and empty, and picks it up once installed", async () => {
    let installed = false;
    let requests = 0;
    const api = apiServer(() => ({ items: [obj("grant", 4)], rv: 4 }));
    const serve = handler;
    handler = (req, res) => {
      requests++;
      if (!installed)
        return json(res, 404, {
          kind: "Status",
          code: 404,
          message: "the server could not find the requested resource",
        });
      serve(req, res);
    };
    const { events, handlers } = record();
    const informer = createInformer<Obj>(
      client(),
      "/apis/gateway.networking.k8s.io/v1beta1/referencegrants",
      { optional: true, absentPollMs: 50 },
      handlers,
    );
    await informer.start();
    try {
      expect(informer.synced).toBe(true);
      expect(events).toEqual(["synced"]);
      // Looked for again, quietly: no error, no further "synced" (which would recompile).
      await vi.waitFor(() => expect(requests).toBeGreaterThanOrEqual(3));
      expect(events).toEqual(["synced"]);
      expect(api.watches).toHaveLength(0);
      installed = true;
      await vi.waitFor(() => expect(api.watches).toHaveLength(1));
      expect(events).toEqual(["synced", "add grant@4", "synced"]);
      expect(api.watches[0]?.query.get("resourceVersion")).toBe("4");
    } finally {
      await informer.stop();
    }
  });

  it("relists on 410 Gone and reports what vanished meanwhile as deletes", async () => {
    let items = [obj("a", 1), obj("b", 2)];
    const api = apiServer(() => ({ items, rv: Number(items.at(-1)?.metadata.resourceVersion ?? 0) }));
    const { events, handlers } = record();
    const informer = createInformer<Obj>(client(), "/api/v1/secrets", {}, handlers);
    await informer.start();
    try {
      await vi.waitFor(() => expect(api.watches).toHaveLength(1));
      items = [obj("b", 2), obj("d", 30)];
      api.send("ERROR", { kind: "Status", code: 410, message: "too old resource version" });
      await vi.waitFor(() => expect(api.watches).toHaveLength(2));
      expect(api.lists()).toBe(2);
      expect(events).toEqual(["add a@1", "add b@2", "synced", "delete a", "add d@30", "synced"]);
      expect(api.watches[1]?.query.get("resourceVersion")).toBe("30");
    } finally {
      await informer.stop();
    }
  });

  it("reports a failed list and retries it until it succeeds", async () => {
    let failures = 2;
    handler = (req, res) => {
      if (new URL(req.url ?? "", "https://x").searchParams.get("watch") === "true") {
        res.writeHead(200);
        res.flushHeaders();
        return;
      }
      if (failures-- > 0) return json(res, 503, { kind: "Status", message: "etcd unavailable" });
      json(res, 200, { metadata: { resourceVersion: "3" }, items: [obj("a", 3)] });
    };
    const { events, handlers } = record();
    const informer = createInformer<Obj>(client(), "/api/v1/secrets", {}, handlers);
    await informer.start();
    try {
      expect(informer.synced).toBe(false);
      await vi.waitFor(() => expect(informer.synced).toBe(true), { timeout: 5_000 });
      expect(events.filter((e) => e.startsWith("error"))).toHaveLength(2);
      expect(events.at(0)).toContain("etcd unavailable");
      expect(events.slice(2)).toEqual(["add a@3", "synced"]);
    } finally {
      await informer.stop();
    }
  });
});
