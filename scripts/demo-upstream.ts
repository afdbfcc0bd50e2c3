// Small HTTP upstreams for the standalone demo: each answers with JSON naming itself,
// the path it received and a few of the headers the gateway added.
import { createServer } from "node:http";

const ports = process.argv.slice(2).map(Number);
for (const [i, port] of ports.entries()) {
  const name = `shop-v${i + 1}`;
  createServer((req, res) => {
    const body = JSON.stringify({
      service: name,
      path: req.url,
      "x-forwarded-for": req.headers["x-forwarded-for"],
      "x-request-id": req.headers["x-request-id"],
    });
    res.writeHead(200, { "content-type": "application/json" }).end(`${body}\n`);
  }).listen(port, "127.0.0.1");
}
console.log(`demo upstreams on 127.0.0.1 ports ${ports.join(", ")}`);
