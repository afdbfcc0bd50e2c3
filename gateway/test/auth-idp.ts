// A fake identity provider for the auth tests: a real HTTP server on 127.0.0.1 (port 0)
// serving a JWKS that the test changes at will — rotate keys, go down, go slow, send
// too much — and counting what it was asked.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";

export interface FakeIdp {
  uri: string;
  /** The keys served. */
  keys: JWK[];
  /** "up", "error" (500), "reset" (connection destroyed), "slow" (answers after slowMs). */
  mode: "up" | "error" | "reset" | "slow";
  slowMs: number;
  /** Extra bytes of padding in the document, to test size limits. */
  padding: number;
  /** JWKS requests received. */
  requests: number;
  close(): Promise<void>;
}

export async function startIdp(keys: JWK[]): Promise<FakeIdp> {
  const pending = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    idp.requests++;
    const answer = () => {
      if (idp.mode === "error") {
        res.writeHead(500).end("boom");
        return;
      }
      const body = JSON.stringify({
        keys: idp.keys,
        ...(idp.padding > 0 ? { pad: "x".repeat(idp.padding) } : {}),
      });
      res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(body);
    };
    if (idp.mode === "reset") req.socket.destroy();
    else if (idp.mode === "slow") {
      const t = setTimeout(() => {
        pending.delete(t);
        if (!res.destroyed) answer();
      }, idp.slowMs);
      pending.add(t);
    } else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const idp: FakeIdp = {
    uri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    keys,
    mode: "up",
    slowMs: 0,
    padding: 0,
    requests: 0,
    async close() {
      for (const t of pending) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return idp;
}
