// The floor of Sluice's architecture: node:http in, undici's dispatch API out, nothing
// else (no routing, no header rules, no health, no retries). The distance between this and
// the sluice row is what Sluice's own work costs per request.
// Usage: node bench/proxy/minimal-undici.ts UPSTREAM_URL PORT
import { createServer } from "node:http";
import { Pool } from "undici";

const [upstream, port] = process.argv.slice(2);
const pool = new Pool(upstream as string, { connections: 128, pipelining: 1 });

createServer((req, res) => {
  pool.dispatch(
    { path: req.url ?? "/", method: "GET", headers: { host: req.headers.host ?? "" } },
    {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        res.writeHead(status, headers as Record<string, string>);
      },
      onResponseData(_c, chunk) {
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_c, err) {
        res.destroy(err);
      },
    },
  );
}).listen(Number(port), "127.0.0.1");
