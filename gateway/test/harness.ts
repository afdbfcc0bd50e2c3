// Test harness for the gateway: real upstream servers on 127.0.0.1 (port 0) and a real
// gateway process-in-process (startGateway) serving a temporary standalone directory.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Logger, pino } from "pino";
import { type Dispatcher, request } from "undici";
import { stringify } from "yaml";
import { type Cleanups, cleanupAfterAll, cleanupAfterEach } from "../../test-support/index.ts";
import { type GatewayConfig, loadGatewayConfig } from "../src/config.ts";
import { type GatewayHandle, type GatewayOptions, startGateway } from "../src/server.ts";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
}

export interface Upstream {
  port: number;
  server: Server;
  /** Every request the upstream received, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers 200 with JSON {name, method, url, headers} unless a handler is given. */
export async function startUpstream(name: string, handler?: UpstreamHandler): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (handler) return handler(req, res);
    req.resume();
    req.on("end", () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestGateway {
  handle: GatewayHandle;
  url: string;
  adminUrl: string;
  dir: string;
  /** Replaces the resources and reloads synchronously. */
  update(objects: unknown[]): void;
  /** A request to the gateway; `host` sets the Host header. */
  request(
    path: string,
    options?: Partial<Dispatcher.RequestOptions> & { host?: string },
  ): Promise<Dispatcher.ResponseData>;
  close(): Promise<void>;
}

/** Objects may be given as JS objects; each is written to its own YAML document. */
export async function startTestGateway(
  objects: unknown[],
  config: Partial<GatewayConfig> = {},
  extras: GatewayOptions & { log?: Logger } = {},
): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-gw-"));
  const write = (objs: unknown[]) =>
    writeFileSync(join(dir, "resources.yaml"), objs.map((o) => stringify(o)).join("---\n"));
  write(objects);
  const handle = await startGateway(
    {
      // The gateway's own defaults, with what tests need instead.
      ...loadGatewayConfig(["--config-dir", dir], {}),
      listen: "127.0.0.1:0",
      adminListen: "127.0.0.1:0",
      // Short: closing a test's gateway waits min(1 s, drainMs / 2) for idle keep-alive
      // connections of the test's client to be used or left alone before closing them.
      drainMs: 500,
      apiKeyHashKey: "test",
      accessLog: false,
      ...config,
    },
    extras.log ?? pino({ level: process.env.SLUICE_TEST_LOG ?? "silent" }),
    extras,
  );
  const url = `http://127.0.0.1:${handle.dataAddress.port}`;
  return {
    handle,
    url,
    adminUrl: `http://127.0.0.1:${handle.adminAddress.port}`,
    dir,
    update(objs) {
      write(objs);
      handle.reload();
    },
    request(path, options = {}) {
      const { host, headers, ...rest } = options;
      return request(`${url}${path}`, {
        ...rest,
        headers: { ...(headers as Record<string, string> | undefined), ...(host ? { host } : {}) },
      });
    },
    async close() {
      await handle.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Builders for the resources tests use most.
const API = "sluice.dev/v1alpha1";

export function pool(name: string, ports: number[], spec: Record<string, unknown> = {}) {
  return {
    apiVersion: API,
    kind: "BackendPool",
    metadata: { name, namespace: "test" },
    spec: { endpoints: ports.map((port) => ({ address: "127.0.0.1", port })), ...spec },
  };
}

export function route(name: string, spec: Record<string, unknown>) {
  return { apiVersion: API, kind: "GatewayRoute", metadata: { name, namespace: "test" }, spec };
}

/** A route sending everything (or the given matches) to one pool. */
export function simpleRoute(
  name: string,
  poolName: string,
  rule: Record<string, unknown> = {},
  hostnames?: string[],
) {
  return route(name, {
    ...(hostnames ? { hostnames } : {}),
    rules: [{ backendRefs: [{ name: poolName }], ...rule }],
  });
}

export async function json<T = Record<string, unknown>>(res: Dispatcher.ResponseData): Promise<T> {
  return (await res.body.json()) as T;
}

/** Starts upstreams and gateways that close with the given cleanups. */
function closingWith({ defer }: Cleanups) {
  return {
    async upstream(name: string, handler?: UpstreamHandler): Promise<Upstream> {
      const up = await startUpstream(name, handler);
      defer(() => up.close());
      return up;
    },
    async gateway(
      objects: unknown[],
      config?: Partial<GatewayConfig>,
      extras?: GatewayOptions & { log?: Logger },
    ): Promise<TestGateway> {
      const gw = await startTestGateway(objects, config, extras);
      defer(() => gw.close());
      return gw;
    },
    defer,
  };
}

/**
 * Upstreams and gateways that close after each test of the calling file, even when it
 * fails. Call once at the top of a test file.
 */
export const closeAfterEach = () => closingWith(cleanupAfterEach());

/**
 * Upstreams and gateways that a beforeAll starts for the tests of the calling file (or
 * describe block), closed once after them. Call once, outside the beforeAll.
 */
export const closeAfterAll = () => closingWith(cleanupAfterAll());

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends a request byte for byte (latin1, so clients cannot normalise anything) and reads
 * the whole response until the server closes; send `Connection: close`. The socket is
 * written, not ended: Node aborts a request whose client half-closes before the answer.
 */
export function rawExchange(port: number, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = text.slice(split + 4);
      if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
    socket.write(request, "latin1");
  });
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
