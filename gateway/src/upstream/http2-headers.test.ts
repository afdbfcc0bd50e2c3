import { describe, expect, it } from "vitest";
import { http2Headers } from "./http2-headers.ts";

describe("http2Headers", () => {
  it.each([
    ["connection", "x-internal"],
    ["proxy-connection", "keep-alive"],
    ["keep-alive", "timeout=5"],
    ["transfer-encoding", "chunked"],
    ["upgrade", "websocket"],
    ["te", "gzip"],
    ["te", "trailers, deflate"],
  ])("drops %s: %s", (name, value) => {
    const out = http2Headers({ host: "a.test", [name]: value, "x-keep": "1" });
    expect(out).toEqual({ host: "a.test", "x-keep": "1" });
  });

  it("keeps TE: trailers, the one value HTTP/2 allows", () => {
    expect(http2Headers({ te: "Trailers " })).toEqual({ te: "Trailers " });
  });

  it("returns the same object, uncopied, when nothing is forbidden", () => {
    const headers = { host: "a.test", "x-a": ["1", "2"] };
    expect(http2Headers(headers)).toBe(headers);
  });

  it("never changes the headers it was given (a retry sends them again)", () => {
    const headers = { host: "a.test", upgrade: "h2c" };
    http2Headers(headers);
    expect(headers).toEqual({ host: "a.test", upgrade: "h2c" });
  });
});
