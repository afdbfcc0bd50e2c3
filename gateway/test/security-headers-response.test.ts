// SecurityHeadersResponse adds the gateway's security headers when a head is written, on
// every way Node writes one: writeHead with an object (in any letter case), with raw
// [name, value] pairs, with a reason phrase, and the implicit head of setHeader + end.
// Whatever the response sets itself wins; a header is never sent twice.
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SecurityHeadersResponse, setSecurityHeaders } from "../src/filters/security-headers.ts";

const HEADERS = [
  ["x-frame-options", "DENY"],
  ["referrer-policy", "no-referrer"],
] as const;

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** Serves one answer written by `write`, and returns the raw header lines the client got. */
async function rawHeadOf(write: (res: ServerResponse) => void): Promise<string[]> {
  const server = createServer(
    { ServerResponse: SecurityHeadersResponse as typeof ServerResponse },
    (_req: IncomingMessage, res: ServerResponse) => {
      setSecurityHeaders(res, HEADERS);
      write(res);
    },
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/" }, (res) => {
      res.resume();
      const names: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) names.push(String(res.rawHeaders[i]).toLowerCase());
      resolve(names.map((n, i) => `${n}: ${res.rawHeaders[2 * i + 1]}`));
    })
      .on("error", reject)
      .end();
  });
}

describe("SecurityHeadersResponse", () => {
  it("adds the headers to an object head, under the response's own values in any case", async () => {
    const head = await rawHeadOf((res) => {
      res.writeHead(200, { "X-Frame-Options": "SAMEORIGIN", "content-length": 0 });
      res.end();
    });
    expect(head).toContain("x-frame-options: SAMEORIGIN");
    expect(head).not.toContain("x-frame-options: DENY");
    expect(head).toContain("referrer-policy: no-referrer");
  });

  it("adds them to raw [name, value] heads and to heads with a reason phrase", async () => {
    const raw = await rawHeadOf((res) => {
      res.writeHead(200, ["Referrer-Policy", "origin", "content-length", "0"]);
      res.end();
    });
    expect(raw).toContain("referrer-policy: origin");
    expect(raw.filter((h) => h.startsWith("referrer-policy"))).toHaveLength(1);
    expect(raw).toContain("x-frame-options: DENY");
    const reason = await rawHeadOf((res) => {
      res.writeHead(204, "Nothing");
      res.end();
    });
    expect(reason).toEqual(expect.arrayContaining(["x-frame-options: DENY", "referrer-policy: no-referrer"]));
  });

  it("adds them to the implicit head of setHeader + end, keeping what was set", async () => {
    const head = await rawHeadOf((res) => {
      res.setHeader("x-frame-options", "SAMEORIGIN");
      res.end("ok");
    });
    expect(head).toContain("x-frame-options: SAMEORIGIN");
    expect(head.filter((h) => h.startsWith("x-frame-options"))).toHaveLength(1);
    expect(head).toContain("referrer-policy: no-referrer");
  });
});
