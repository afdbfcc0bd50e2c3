// Traces, exported by the standard OTLP/HTTP exporter to a receiver in this test: a server
// span per request (continuing the client's trace), a client span per upstream attempt as
// its child, and the attempt's traceparent received by the upstream. Own file: the SDK
// registers process-wide, and only this file turns it on.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { cleanupAfterAll, deadPort } from "../../test-support/index.ts";
import { pool, simpleRoute, startTestGateway, startUpstream } from "./harness.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}
const SERVER = 2;
const CLIENT = 3;

const spans: OtlpSpan[] = [];
let receiver: Server;
const { defer } = cleanupAfterAll();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  defer(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    OTEL_TRACES_SAMPLER: "always_on",
  });
});

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

describe("tracing (OTLP/HTTP)", () => {
  it("exports a server span and a child client span per attempt, and propagates traceparent", async () => {
    const access: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split("\n")) if (l) access.push(JSON.parse(l));
        done();
      },
    });
    const upstream = await startUpstream("traced");
    const dead = await deadPort();
    const gw = await startTestGateway(
      [
        pool("traced", [dead, upstream.port], { loadBalancing: { algorithm: "RoundRobin" } }),
        simpleRoute("traced", "traced", { retry: { attempts: 1, retryOn: ["connect-failure"] } }),
      ],
      { accessLog: true },
      { accessLogStream: stream },
    );
    // The client's own trace: the gateway's server span must continue it.
    const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const clientSpan = "00f067aa0ba902b7";
    for (let i = 0; i < 2; i++) {
      const res = await gw.request("/t", { headers: { traceparent: `00-${clientTrace}-${clientSpan}-01` } });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    await gw.close();
    await upstream.close();

    const servers = spans.filter((s) => s.kind === SERVER);
    const clients = spans.filter((s) => s.kind === CLIENT);
    expect(servers).toHaveLength(2);
    // Round robin over a dead endpoint and a live one: one request needed a retry.
    expect(clients).toHaveLength(3);
    for (const server of servers) {
      expect(server.traceId).toBe(clientTrace);
      expect(server.parentSpanId).toBe(clientSpan);
      expect(server.name).toBe("GET test/traced");
      expect(attr(server, "sluice.route")).toBe("test/traced");
      expect(attr(server, "sluice.pool")).toBe("test/traced");
      expect(attr(server, "http.response.status_code")).toBe(200);
    }
    for (const client of clients) {
      expect(servers.map((s) => s.spanId)).toContain(client.parentSpanId);
      expect(client.traceId).toBe(clientTrace);
    }
    // The upstream saw the successful attempts' own span ids in traceparent.
    const received = upstream.requests.map((r) => String(r.headers.traceparent));
    expect(received).toHaveLength(2);
    for (const tp of received) {
      const [, trace, span] = tp.split("-");
      expect(trace).toBe(clientTrace);
      expect(clients.map((c) => c.spanId)).toContain(span);
    }
    // And the access log names the trace.
    expect(access.map((l) => l.traceId)).toEqual([clientTrace, clientTrace]);
  });
});
