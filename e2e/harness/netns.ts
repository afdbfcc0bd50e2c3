// Test hosts with non-loopback addresses: the API server refuses loopback addresses in
// EndpointSlices, so backends discovered through a Service listen in a network namespace
// this harness creates (ip netns + a veth pair, on a private range the test owns).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { sleep } from "../../test-support/index.ts";

export interface TestHosts {
  /** The addresses inside the namespace, each a host the test can run a server on. */
  addresses: string[];
  /** Starts an HTTP server in the namespace on address:port answering "NAME saw PATH". */
  serve(name: string, address: string, port: number): Promise<ChildProcess>;
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

/** A namespace with `count` addresses 10.<subnet>.0.2…, reachable from the host via 10.<subnet>.0.1. */
export function createTestHosts(subnet: number, count: number): TestHosts {
  const ns = `sluice-e2e-${process.pid}`;
  const host = `sle${process.pid % 100000}h`;
  const peer = `sle${process.pid % 100000}n`;
  ip("netns", "add", ns);
  const children: ChildProcess[] = [];
  const destroy = () => {
    for (const c of children) c.kill("SIGKILL");
    try {
      ip("link", "del", host);
    } catch {}
    try {
      ip("netns", "del", ns);
    } catch {}
  };
  try {
    ip("link", "add", host, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", ns);
    ip("addr", "add", `10.${subnet}.0.1/24`, "dev", host);
    ip("link", "set", host, "up");
    const addresses = Array.from({ length: count }, (_, i) => `10.${subnet}.0.${i + 2}`);
    for (const a of addresses) ip("-n", ns, "addr", "add", `${a}/24`, "dev", peer);
    ip("-n", ns, "link", "set", peer, "up");
    ip("-n", ns, "link", "set", "lo", "up");
    return {
      addresses,
      async serve(name, address, port) {
        const code = `require("node:http").createServer((q, s) => s.end(${JSON.stringify(name)} + " saw " + q.url)).listen(${port}, ${JSON.stringify(address)})`;
        const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", code], { stdio: "ignore" });
        children.push(child);
        // Ready when it answers from the host side.
        for (let i = 0; i < 100; i++) {
          try {
            const res = await fetch(`http://${address}:${port}/ready`);
            if (res.ok) return child;
          } catch {}
          await sleep(50);
        }
        throw new Error(`${name} did not start on ${address}:${port}`);
      },
      destroy,
    };
  } catch (err) {
    destroy();
    throw err;
  }
}
