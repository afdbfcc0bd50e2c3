// Sluice's data plane hosted by fastify instead of bare node:http, for the ADR that
// decides between them (docs/adr/0002-data-plane-on-node-http.md): every request goes
// through fastify's router and lifecycle to a catch-all route that hands it to the same
// handler. Usage: node bench/proxy/sluice-fastify.ts CONFIG_DIR PORT
import Fastify from "fastify";
import { createDataPlane } from "../../gateway/src/data-plane.ts";
import { SnapshotLoader } from "../../gateway/src/snapshot/loader.ts";
import { compileDirectory } from "../../gateway/src/sources/directory-source.ts";

const [configDir, port] = process.argv.slice(2);
const loader = new SnapshotLoader();
loader.load(compileDirectory(configDir as string, "bench").snapshot, configDir as string);
const dataPlane = createDataPlane({
  current: () => loader.current,
  trustedHops: 0,
  maxBodyBytes: 0,
  tls: false,
});

const app = Fastify({ logger: false });
// Let the body stream through to the upstream instead of fastify parsing it.
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", (_req, _payload, done) => done(null));
app.all("/*", (request, reply) => {
  reply.hijack();
  dataPlane.handleRequest(request.raw, reply.raw);
});
await app.listen({ host: "127.0.0.1", port: Number(port) });
