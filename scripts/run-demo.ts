// `make run`: the standalone gateway on config/samples/standalone with two demo upstreams,
// and the curl commands that show routing, the canary split, an error, a redirect, a rate
// limit and API-key authentication. The gateway's log (pino JSON lines: its own events and
// one access line per request) is shown one short line each, so a reload, a rejected edit
// and every request can be read in the terminal; SLUICE_LOG_LEVEL=warn quietens it.
// Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

const LISTEN = process.env.SLUICE_LISTEN ?? "127.0.0.1:8080";
const ADMIN = process.env.SLUICE_ADMIN_LISTEN ?? "127.0.0.1:9901";
const node = process.execPath;

const children = [
  spawn(node, ["scripts/demo-upstream.ts", "9801", "9802"], { stdio: "inherit" }),
  spawn(
    node,
    [
      "cli/sluice.ts",
      "gateway",
      "--config-dir",
      "config/samples/standalone",
      "--listen",
      LISTEN,
      "--admin-listen",
      ADMIN,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  ),
];

// The level's name (core/admin/log-format.ts); pino's numbers for lines of an older format.
const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
// Said by every line, or by the words around it: not repeated in the short form.
const IMPLIED = new Set(["level", "time", "pid", "hostname", "logger", "name", "msg"]);
const ACCESS_SHOWN = new Set([...IMPLIED, "method", "path", "status", "durationMs", "requestId"]);

const clock = (time: unknown) =>
  new Date(typeof time === "number" || typeof time === "string" ? time : Date.now())
    .toTimeString()
    .slice(0, 8);
const fields = (entry: Record<string, unknown>, skip: Set<string>) =>
  Object.entries(entry)
    .filter(([key, value]) => !skip.has(key) && value !== undefined && value !== "")
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");

/** One pino JSON line as `12:00:00 WARN  message key=value …`; other lines as they are. */
function shortLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== "object" || entry === null) return line;
  const time = clock(entry.time);
  if (entry.msg === "access") {
    return `${time} ${entry.method} ${entry.path} → ${entry.status} in ${entry.durationMs} ms  ${fields(entry, ACCESS_SHOWN)}`;
  }
  const level = (LEVELS[entry.level as number] ?? String(entry.level).toUpperCase()).padEnd(5);
  return `${time} ${level} ${entry.msg}  ${fields(entry, IMPLIED)}`.trimEnd();
}

const gatewayLog = children[1]?.stdout;
if (gatewayLog) createInterface({ input: gatewayLog }).on("line", (line) => console.log(shortLine(line)));
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
Edit config/samples/standalone/demo.yaml and the gateway reloads it; its log follows here. Ctrl-C to stop.
`);
