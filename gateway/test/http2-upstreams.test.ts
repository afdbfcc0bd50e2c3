// HTTP/2 to upstreams, against real node:http2 servers: cleartext with prior knowledge
// (h2c) when a pool says `connection.http2`, and over TLS negotiated by ALPN when it also
// says `tls`. Each upstream records the HTTP version it saw; the tests check that bodies
// stream both ways, that status and headers pass through, that no connection-specific
// header reaches an HTTP/2 upstream, and that timeouts and retries behave as for HTTP/1.1.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Dispatcher } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { sleep } from "../../test-support/index.ts";
import { closeAfterEach, pool, simpleRoute } from "./harness.ts";

const { gateway, defer } = closeAfterEach();
const PROBLEMS = "https://sluice.dev/problems/";

interface Seen {
  httpVersion: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  sha256: string;
  /** The SNI the gateway sent (TLS only). */
  servername?: string | false | null;
}

type H2Handler = (req: Http2ServerRequest, res: Http2ServerResponse, seen: Seen[]) => void;

/** Answers 201 with x-upstream and JSON {httpVersion, bytes, sha256} of the request body. */
const echo: H2Handler = (req, res, seen) => {
  const hash = createHash("sha256");
  let bytes = 0;
  req.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.on("end", () => {
    const entry: Seen = {
      httpVersion: req.httpVersion,
      method: req.method,
      url: req.url,
      headers: { ...req.headers },
      bytes,
      sha256: hash.digest("hex"),
      servername: (req.socket as TLSSocket).servername,
    };
    seen.push(entry);
    res.writeHead(201, {
      "content-type": "application/json",
      "x-upstream": "h2",
      "set-cookie": ["a=1", "b=2"],
    });
    res.end(JSON.stringify(entry));
  });
};

/** A node:http2 server on 127.0.0.1, port 0, closed after the test. */
async function h2Upstream(server: Http2Server | Http2SecureServer, handler: H2Handler = echo) {
  const seen: Seen[] = [];
  let sessions = 0;
  server.on("session", () => sessions++);
  server.on("request", (req, res) => handler(req, res, seen));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  defer(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // close() waits for sessions to end; the gateway's pool is closed first, but be sure.
        setTimeout(resolve, 1000).unref();
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    get sessions() {
      return sessions;
    },
  };
}

const h2c = (handler?: H2Handler) => h2Upstream(createServer(), handler);

async function expectProblem(res: Dispatcher.ResponseData, status: number, type: string) {
  expect(res.statusCode).toBe(status);
  const body = (await res.body.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `${PROBLEMS}${type}`, status });
  return body;
}

/** `count` chunks of `size` pseudo-random bytes, yielded one at a time (a chunked upload). */
function chunks(count: number, size: number): { body: Readable; sha256: string; bytes: number } {
  const parts = Array.from({ length: count }, (_, i) => createHash("sha512").update(String(i)).digest());
  const data = parts.map((p) => Buffer.concat(Array(Math.ceil(size / p.length)).fill(p)).subarray(0, size));
  return {
    body: Readable.from(
      (async function* () {
        for (const d of data) {
          yield d;
          await new Promise((r) => setImmediate(r));
        }
      })(),
    ),
    sha256: createHash("sha256").update(Buffer.concat(data)).digest("hex"),
    bytes: count * size,
  };
}

const h2Pool = (name: string, ports: number[], spec: Record<string, unknown> = {}) =>
  pool(name, ports, { connection: { http2: true }, ...spec });

describe("h2c upstreams (HTTP/2 with prior knowledge)", () => {
  it("a GET reaches the upstream over HTTP/2; status and response headers pass through", async () => {
    const up = await h2c();
    const gw = await gateway([h2Pool("p", [up.port]), simpleRoute("r", "p")]);
    const res = await gw.request("/items?x=1", { host: "shop.test" });
    expect(res.statusCode).toBe(201);
    expect(res.headers["x-upstream"]).toBe("h2");
    expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect(res.headers["x-request-id"]).toBeDefined();
    const body = (await res.body.json()) as Seen;
    expect(body).toMatchObject({ httpVersion: "2.0", method: "GET", url: "/items?x=1" });
    expect(body.headers[":authority"]).toBe("shop.test");
    expect(body.headers["x-request-id"]).toBe(res.headers["x-request-id"]);
  });

  it("many requests share one HTTP/2 connection", async () => {
    const up = await h2c();
    const gw = await gateway([h2Pool("p", [up.port]), simpleRoute("r", "p")]);
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await gw.request("/");
        await res.body.dump();
        return res.statusCode;
      }),
    );
    expect(statuses).toEqual(Array(50).fill(201));
    expect(up.seen.every((s) => s.httpVersion === "2.0")).toBe(true);
    expect(up.sessions).toBe(1);
  });

  it("streams a 1 MiB chunked request body to the upstream intact", async () => {
    const up = await h2c();
    const gw = await gateway([h2Pool("p", [up.port]), simpleRoute("r", "p")]);
    const upload = chunks(64, 16 * 1024);
    const res = await gw.request("/upload", { method: "POST", body: upload.body });
    expect(res.statusCode).toBe(201);
    const body = (await res.body.json()) as Seen;
    expect(body).toMatchObject({
      httpVersion: "2.0",
      method: "POST",
      bytes: upload.bytes,
      sha256: upload.sha256,
    });
    expect(body.headers["transfer-encoding"]).toBeUndefined();
  });

  it("streams the response: the client reads the first chunk before the upstream has sent the rest", async () => {
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const up = await h2c((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first;");
      released.then(() => res.end("rest"));
    });
    const gw = await gateway([h2Pool("p", [up.port]), simpleRoute("r", "p")]);
    const res = await gw.request("/stream");
    expect(res.statusCode).toBe(200);
    const reader = res.body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(String(first.value)).toBe("first;");
    release();
    let rest = "";
    for (let next = await reader.next(); !next.done; next = await reader.next()) rest += String(next.value);
    expect(rest).toBe("rest");
  });

  it("never sends connection-specific headers, even when a route sets them", async () => {
    const up = await h2c();
    const set = [
      { name: "connection", value: "x-secret" },
      { name: "keep-alive", value: "timeout=5" },
      { name: "proxy-connection", value: "keep-alive" },
      { name: "upgrade", value: "h2c" },
      { name: "te", value: "gzip" },
      { name: "x-kept", value: "yes" },
    ];
    const gw = await gateway([
      h2Pool("p", [up.port]),
      simpleRoute("r", "p", { filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set } }] }),
    ]);
    const res = await gw.request("/");
    expect(res.statusCode).toBe(201);
    const { headers } = (await res.body.json()) as Seen;
    for (const name of ["connection", "keep-alive", "proxy-connection", "upgrade", "te"])
      expect(headers[name], name).toBeUndefined();
    expect(headers["x-kept"]).toBe("yes");
  });

  it("answers 504 when an attempt exceeds backendRequest, and the connection keeps serving", async () => {
    const up = await h2c((req, res, seen) => {
      if (req.url === "/slow") return; // never answers
      echo(req, res, seen);
    });
    const gw = await gateway([
      h2Pool("p", [up.port]),
      simpleRoute("r", "p", { timeouts: { backendRequest: "100ms" } }),
    ]);
    await expectProblem(await gw.request("/slow"), 504, "upstream-timeout");
    const res = await gw.request("/fast");
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    expect(up.sessions).toBe(1);
  });

  it.each([
    ["a stream reset", (req: Http2ServerRequest) => req.stream.close(constants.NGHTTP2_INTERNAL_ERROR)],
    ["a connection destroyed", (req: Http2ServerRequest) => req.stream.session?.destroy()],
  ])(
    "retries %s on the other endpoint with retryOn reset; without it the client gets 502 reset",
    async (_, fail) => {
      const resetter = await h2c((req) => fail(req));
      const good = await h2c();
      const objects = (retryOn: string[]) => [
        h2Pool("p", [resetter.port, good.port]),
        simpleRoute("r", "p", { retry: { attempts: 1, retryOn } }),
      ];
      const gw = await gateway(objects(["reset"]));
      for (let i = 0; i < 6; i++) {
        const res = await gw.request("/");
        expect(res.statusCode).toBe(201);
        await res.body.dump();
      }
      gw.update(objects(["503"]));
      const details: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await gw.request("/");
        if (res.statusCode === 201) await res.body.dump();
        else details.push(String((await expectProblem(res, 502, "upstream-failed")).detail));
      }
      expect(details.length).toBeGreaterThanOrEqual(2);
      for (const detail of details) expect(detail).toContain("reset");
    },
  );
});

/** A self-signed certificate (its own CA) for the names given, made with openssl. */
function selfSigned(dir: string, name: string, san: string): { cert: string; key: string } {
  const file = (ext: string) => join(dir, `${name}.${ext}`);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${name}`].concat([
      "-keyout",
      file("key"),
      "-out",
      file("crt"),
      "-addext",
      `subjectAltName=${san}`,
    ]),
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return { cert: readFileSync(file("crt"), "utf8"), key: readFileSync(file("key"), "utf8") };
}

describe("h2 upstreams over TLS (ALPN)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-h2-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const upstreamCert = selfSigned(dir, "users", "DNS:users.shop.svc");
  const strangerCert = selfSigned(dir, "stranger", "DNS:users.shop.svc");

  const caSecret = (pem: string) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "users-ca", namespace: "test" },
    stringData: { "ca.crt": pem },
  });
  const tlsPool = (port: number, http2: boolean, tls: Record<string, unknown> = {}, spec = {}) =>
    pool("p", [port], {
      ...spec,
      connection: { http2 },
      tls: { serverName: "users.shop.svc", caCertificateRef: { name: "users-ca", key: "ca.crt" }, ...tls },
    });
  const secure = (allowHTTP1 = false) => createSecureServer({ ...upstreamCert, allowHTTP1 });

  it("negotiates h2 by ALPN: status, headers and a streamed body pass through", async () => {
    const up = await h2Upstream(secure());
    const gw = await gateway([caSecret(upstreamCert.cert), tlsPool(up.port, true), simpleRoute("r", "p")]);
    const upload = chunks(32, 8 * 1024);
    const res = await gw.request("/orders", { method: "PUT", body: upload.body, host: "api.test" });
    expect(res.statusCode).toBe(201);
    expect(res.headers["x-upstream"]).toBe("h2");
    const body = (await res.body.json()) as Seen;
    expect(body).toMatchObject({
      httpVersion: "2.0",
      method: "PUT",
      bytes: upload.bytes,
      sha256: upload.sha256,
    });
    // The client's Host is the :authority; the pool's serverName is the SNI.
    expect(body.headers[":authority"]).toBe("api.test");
    expect(body.servername).toBe("users.shop.svc");
  });

  it("keeps one connection across requests for different hosts (SNI is the pool's, not the Host)", async () => {
    const up = await h2Upstream(secure());
    const gw = await gateway([caSecret(upstreamCert.cert), tlsPool(up.port, true), simpleRoute("r", "p")]);
    for (const host of ["a.test", "b.test", "c.test"]) {
      const res = await gw.request("/", { host });
      expect(res.statusCode).toBe(201);
      await res.body.dump();
    }
    expect(up.sessions).toBe(1);
  });

  it("runs active health checks over the same h2 connection, with the pool's SNI", async () => {
    const up = await h2Upstream(secure());
    const healthCheck = { active: { path: "/healthz", interval: "200ms", timeout: "100ms" } };
    const gw = await gateway([
      caSecret(upstreamCert.cert),
      tlsPool(up.port, true, {}, { healthCheck }),
      simpleRoute("r", "p"),
    ]);
    const deadline = Date.now() + 5000;
    while (!up.seen.some((s) => s.url === "/healthz") && Date.now() < deadline) await sleep(50);
    const check = up.seen.find((s) => s.url === "/healthz");
    expect(check).toMatchObject({ httpVersion: "2.0", servername: "users.shop.svc" });
    expect(check?.headers["user-agent"]).toBe("sluice-health-check");
    const res = await gw.request("/");
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    expect(up.sessions).toBe(1);
  });

  it("speaks HTTP/1.1 over TLS when the pool does not ask for http2", async () => {
    const up = await h2Upstream(secure(true));
    const gw = await gateway([caSecret(upstreamCert.cert), tlsPool(up.port, false), simpleRoute("r", "p")]);
    const res = await gw.request("/");
    expect(res.statusCode).toBe(201);
    expect(((await res.body.json()) as Seen).httpVersion).toBe("1.1");
  });

  it("refuses an endpoint whose certificate the pool's CA did not sign: 502, nothing sent", async () => {
    const up = await h2Upstream(secure());
    const gw = await gateway([caSecret(strangerCert.cert), tlsPool(up.port, true), simpleRoute("r", "p")]);
    await expectProblem(await gw.request("/"), 502, "upstream-failed");
    expect(up.seen).toHaveLength(0);
  });

  it("refuses an endpoint whose certificate does not carry the serverName: 502, nothing sent", async () => {
    const up = await h2Upstream(secure());
    const gw = await gateway([
      caSecret(upstreamCert.cert),
      tlsPool(up.port, true, { serverName: "orders.shop.svc" }),
      simpleRoute("r", "p"),
    ]);
    await expectProblem(await gw.request("/"), 502, "upstream-failed");
    expect(up.seen).toHaveLength(0);
  });

  it.each([
    ["is missing", []],
    ["holds no certificate", [caSecret("not a certificate")]],
  ])("fails closed when the CA Secret %s: 503, never cleartext", async (_, secrets) => {
    const up = await h2Upstream(secure(true));
    const gw = await gateway([...secrets, tlsPool(up.port, true), simpleRoute("r", "p")]);
    await expectProblem(await gw.request("/"), 503, "no-healthy-endpoint");
    expect(up.seen).toHaveLength(0);
  });
});
