// Sluice's data plane on bare node:http instead of hosted by fastify, to keep the
// decision of docs/adr/0002-data-plane-hosted-by-fastify.md checkable: the same handler,
// without fastify's router and lifecycle in front of it.
// Usage: node bench/proxy/sluice-node-http.ts CONFIG_DIR PORT
import { createServer } from "node:http";
import { compileDirectory } from "../../core/sources/directory-source.ts";
import { createDataPlane } from "../../gateway/src/data-plane.ts";
import { SnapshotLoader } from "../../gateway/src/snapshot/loader.ts";

const [configDir, port] = process.argv.slice(2);
const loader = new SnapshotLoader();
loader.load(compileDirectory(configDir as string, "bench").snapshot, configDir as string);
const dataPlane = createDataPlane({
  current: () => loader.current,
  trustedHops: 0,
  maxBodyBytes: 0,
  tls: false,
});

createServer({ insecureHTTPParser: false }, (req, res) => dataPlane.handleRequest(req, res)).listen(
  Number(port),
  "127.0.0.1",
);
