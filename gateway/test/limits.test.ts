// Limits a client runs into: body size (announced and chunked), head size, strict parsing.
import { Readable } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import {
  closeAfterAll,
  json,
  pool,
  rawExchange,
  simpleRoute,
  type TestGateway,
  type Upstream,
} from "./harness.ts";

const { upstream, gateway } = closeAfterAll();

let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await upstream("a");
  gw = await gateway([pool("a", [up.port]), simpleRoute("r", "a")], {
    maxBodyBytes: 1024,
    maxHeaderBytes: 2048,
  });
});

/** Sends raw bytes and returns the status line of the answer. */
async function raw(text: string): Promise<string> {
  const res = await rawExchange(Number(new URL(gw.url).port), text);
  return `HTTP/1.1 ${res.status}`;
}

describe("limits", () => {
  it("answers 413 to a body whose content-length is over --max-body-bytes, without calling the upstream", async () => {
    const before = up.requests.length;
    const res = await gw.request("/upload", { method: "POST", body: "x".repeat(2000) });
    expect(res.statusCode).toBe(413);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect((await json(res)).type).toBe("https://sluice.dev/problems/payload-too-large");
    expect(up.requests.length).toBe(before);
  });

  it("answers 413 to a chunked body once it goes over the limit", async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(300, 120));
    const res = await gw.request("/upload", { method: "POST", body: Readable.from(chunks) });
    expect(res.statusCode).toBe(413);
    await res.body.dump();
  });

  it("lets a body under the limit through, chunked or not", async () => {
    const a = await gw.request("/upload", { method: "POST", body: "x".repeat(1000) });
    expect(a.statusCode).toBe(200);
    await a.body.dump();
    const b = await gw.request("/upload", {
      method: "POST",
      body: Readable.from([Buffer.alloc(500), Buffer.alloc(500)]),
    });
    expect(b.statusCode).toBe(200);
    await b.body.dump();
  });

  it("answers 431 to a request head over --max-header-bytes", async () => {
    const line = await raw(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"y".repeat(4000)}\r\n\r\n`);
    expect(line).toBe("HTTP/1.1 431");
  });

  it("refuses malformed HTTP with 400 (strict parser)", async () => {
    expect(await raw("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")).toBe("HTTP/1.1 400");
    expect(
      await raw(
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      ),
    ).toBe("HTTP/1.1 400");
  });
});
