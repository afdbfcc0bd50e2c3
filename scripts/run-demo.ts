// `make run`: the standalone gateway on config/samples/standalone with two demo upstreams,
// and the curl commands that show routing, the canary split, an error, a redirect, a rate
// limit and API-key authentication.
// Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

const LISTEN = process.env.SLUICE_LISTEN ?? "127.0.0.1:8080";
const ADMIN = process.env.SLUICE_ADMIN_LISTEN ?? "127.0.0.1:9901";
const node = process.execPath;

const children = [
  spawn(node, ["scripts/demo-upstream.ts", "9801", "9802"], { stdio: "inherit" }),
  spawn(
    node,
    [
      "gateway/src/cli.ts",
      "gateway",
      "--config-dir",
      "config/samples/standalone",
      "--listen",
      LISTEN,
      "--admin-listen",
      ADMIN,
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, SLUICE_LOG_LEVEL: "warn" } },
  ),
];
const stop = () => {
  for (const c of children) c.kill("SIGTERM");
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
for (const c of children) c.on("exit", (code) => code && process.exit(code));

for (let i = 0; i < 100; i++) {
  const ready = await fetch(`http://${ADMIN}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  await sleep(100);
}
const url = `http://${LISTEN.replace("127.0.0.1", "localhost")}`;
console.log(`
Sluice is serving config/samples/standalone on ${url} (admin on http://${ADMIN}).
Try:
  curl -i ${url}/api/products            # routed to shop-v1 (90%) or shop-v2 (10%), path rewritten to /products
  for i in $(seq 20); do curl -s ${url}/api/x; done | grep -o 'shop-v[12]' | sort | uniq -c   # the canary split
  curl -i ${url}/legacy/orders           # a backend that is down: 502 application/problem+json
  curl -i ${url}/docs                    # a redirect answered by the gateway
  curl -i ${url}/nope                    # no route: 404 application/problem+json
  for i in 1 2 3 4; do curl -si ${url}/limited | grep -iE '^(HTTP|ratelimit|retry-after)'; done   # 3 per 10 s, then 429
  curl -i ${url}/admin                   # 401: an API key is required
  curl -i -H 'x-api-key: demo-key-0123456789abcdef' ${url}/admin   # let through, as consumer demo-admin
  curl -s http://${ADMIN}/status         # loaded snapshot version, pools and endpoint health
Edit config/samples/standalone/demo.yaml and the gateway reloads it. Ctrl-C to stop.
`);
