// @fastify/http-proxy on Node 24 as its README sets it up: every path forwarded to one
// upstream, reply-from's default undici pool (keep-alive), no logger (logging would measure
// pino, not the proxy). Usage: node bench/proxy/fastify-proxy.ts <upstream-url> <port>
import proxy from "@fastify/http-proxy";
import Fastify from "fastify";

const [upstream, port] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(proxy, { upstream: upstream ?? "" });
await app.listen({ host: "127.0.0.1", port: Number(port) });
