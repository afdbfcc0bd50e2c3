// Slow clients cannot hold a pool's capacity: a body that stops arriving is answered 408
// (--body-idle-timeout-ms), and one client address has at most --max-requests-per-client
// requests in flight, so a flood of slow uploads from one address leaves the pool's
// circuit breaker for everyone else.
import { connect, type Socket } from "node:net";
import { Client } from "undici";
import { describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { closeAfterEach, json, pool, rawExchange, simpleRoute } from "./harness.ts";

const { upstream, gateway, defer } = closeAfterEach();

const PROBLEMS = "https://sluice.dev/problems/";

/** A connection from `localAddress` that sends a request head and then its body a byte at a time. */
interface SlowUpload {
  socket: Socket;
  /** Everything the gateway answered so far. */
  received: () => string;
  closed: boolean;
}

function slowUpload(port: number, localAddress: string, bodyBytes: number): SlowUpload {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  const chunks: Buffer[] = [];
  const upload: SlowUpload = {
    socket,
    received: () => Buffer.concat(chunks).toString("latin1"),
    closed: false,
  };
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {}); // the gateway may close while we write: expected for refusals
  socket.on("close", () => {
    upload.closed = true;
  });
  socket.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
  return upload;
}

const statusOf = (text: string) => Number(text.slice(9, 12)) || undefined;

describe("slow clients", () => {
  it("a flood of slow uploads from one address leaves the pool's capacity to another client", async () => {
    const up = await upstream("a");
    const gw = await gateway(
      [
        pool("a", [up.port], {
          circuitBreaker: { maxRequests: 32, maxConnections: 32, maxPendingRequests: 32 },
        }),
        simpleRoute("r", "a"),
      ],
      { maxRequestsPerClient: 16 },
    );
    const port = Number(new URL(gw.url).port);
    const FLOOD = 400;
    const uploads = Array.from({ length: FLOOD }, () => slowUpload(port, "127.0.0.2", 1_000_000));
    // One byte per connection every 100 ms: steady enough that the body idle timeout
    // (10 s by default) never fires; only the per-client limit stands in the way.
    const trickle = setInterval(() => {
      for (const u of uploads) if (!u.closed) u.socket.write("x");
    }, 100);
    defer(() => {
      clearInterval(trickle);
      for (const u of uploads) u.socket.destroy();
    });
    const answered = () => uploads.filter((u) => statusOf(u.received()) !== undefined);
    await eventually(
      "every slow upload admitted or refused",
      () => answered().length + up.requests.length === FLOOD,
      { timeoutMs: 10_000 },
    );

    // Another client (127.0.0.3) still gets through the same pool, at once.
    const other = new Client(gw.url, { connect: { localAddress: "127.0.0.3" } });
    defer(() => other.close());
    const started = performance.now();
    const res = await other.request({
      path: "/upload",
      method: "POST",
      body: "hello",
      headers: { host: "a" },
    });
    const tookMs = performance.now() - started;
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(tookMs).toBeLessThan(1000);

    // The flood: 16 upstream, the rest refused with a problem that says why.
    expect(up.requests.length - 1).toBe(16);
    const statuses = answered().map((u) => statusOf(u.received()));
    expect(new Set(statuses)).toEqual(new Set([429]));
    const refusal = answered()[0]?.received() ?? "";
    expect(refusal).toContain("content-type: application/problem+json");
    expect(refusal).toContain(`"type":"${PROBLEMS}client-concurrency-exceeded"`);
    console.log(
      `slow-upload flood: ${FLOOD} connections from 127.0.0.2, ${up.requests.length - 1} of them upstream, ` +
        `${statuses.length} refused 429; a request from 127.0.0.3 got 200 in ${tookMs.toFixed(1)} ms`,
    );
    // The slow uploads still stream (the limit did not cut the admitted ones).
    expect(uploads.filter((u) => !u.closed)).toHaveLength(16);
  }, 30_000);

  it("answers 408 request-body-timeout when a body stalls, and frees its place in the pool", async () => {
    const up = await upstream("a");
    const gw = await gateway(
      [pool("a", [up.port], { circuitBreaker: { maxRequests: 1 } }), simpleRoute("r", "a")],
      { bodyIdleTimeoutMs: 300 },
    );
    const port = Number(new URL(gw.url).port);
    const started = performance.now();
    // Ten of the hundred announced bytes, then nothing.
    const res = await rawExchange(
      port,
      "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    const tookMs = performance.now() - started;
    expect(res.status).toBe(408);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(res.body).type).toBe(`${PROBLEMS}request-body-timeout`);
    expect(tookMs).toBeGreaterThanOrEqual(290);
    expect(tookMs).toBeLessThan(3000);
    // The pool's only place is free again.
    const next = await gw.request("/upload", { method: "POST", body: "hello" });
    expect(next.statusCode).toBe(200);
    await next.body.dump();
  });

  it("lets a slow but steady body through: the timeout is for pauses, not for the whole body", async () => {
    const up = await upstream("a");
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], { bodyIdleTimeoutMs: 300 });
    const u = slowUpload(Number(new URL(gw.url).port), "127.0.0.1", 10);
    defer(() => u.socket.destroy());
    // 10 bytes, one every 100 ms: a second in all, more than three timeouts.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      u.socket.write("x");
    }
    await eventually("the answer", () => u.received().includes("\r\n\r\n{"), { timeoutMs: 10_000 });
    expect(statusOf(u.received())).toBe(200);
    expect(JSON.parse(u.received().slice(u.received().indexOf("\r\n\r\n") + 4)).name).toBe("a");
  });

  it("counts requests per client address: the limit frees as requests finish", async () => {
    const hold: (() => void)[] = [];
    const up = await upstream("a", (req, res) => {
      req.resume();
      hold.push(() => res.end("done"));
    });
    defer(() => {
      for (const h of hold) h();
    });
    const gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], { maxRequestsPerClient: 2 });
    const first = [gw.request("/"), gw.request("/")];
    await eventually("two requests upstream", () => hold.length === 2, { timeoutMs: 10_000 });
    const third = await gw.request("/");
    expect(third.statusCode).toBe(429);
    expect((await json(third)).type).toBe(`${PROBLEMS}client-concurrency-exceeded`);
    for (const h of hold.splice(0)) h();
    for (const r of await Promise.all(first)) {
      expect(r.statusCode).toBe(200);
      await r.body.dump();
    }
    const fourth = gw.request("/");
    await eventually("the next request upstream", () => hold.length === 1, { timeoutMs: 10_000 });
    hold.shift()?.();
    expect((await fourth).statusCode).toBe(200);
  });
});
