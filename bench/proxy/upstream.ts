// The node:http upstream of the proxy bench (BENCH_UPSTREAM=node): a fixed 100-byte body on
// keep-alive connections, nothing else, so that the proxy's work dominates. nginx serving
// the same body (nginx-upstream.conf.tmpl) is the default because it is cheaper; see run.ts.
// Usage: node bench/proxy/upstream.ts <port>
import { createServer } from "node:http";

/** Exactly 100 bytes; the nginx upstream returns the same string. */
export const BODY = `${"sluice proxy bench upstream ".padEnd(99, ".")}\n`;

if (import.meta.main) {
  const payload = Buffer.from(BODY);
  const headers = { "content-type": "text/plain", "content-length": String(payload.length) };
  const server = createServer((_req, res) => {
    res.writeHead(200, headers);
    res.end(payload);
  });
  // Idle keep-alive connections from wrk or a proxy's pool must not be closed between runs.
  server.keepAliveTimeout = 300_000;
  server.listen(Number(process.argv[2]), "127.0.0.1");
}
