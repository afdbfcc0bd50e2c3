// A second kube-apiserver on the suite's etcd, with the first one's flags and credentials,
// that a test may kill and restart on the same port — an API server going away under the
// operator and gateways while the cluster (etcd, and the first API server) stays up.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { parse, stringify } from "yaml";
import { sleep } from "../../test-support/index.ts";

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: { token?: string } }[];
}

export class ExtraApiServer {
  readonly url: string;
  readonly #launcher: string;
  readonly #port: number;
  readonly #logDir: string;
  #pid: number | undefined;
  #starts = 0;

  constructor(launcher: string, port: number, logDir: string) {
    this.#launcher = launcher;
    this.#port = port;
    this.#logDir = logDir;
    this.url = `https://127.0.0.1:${port}`;
  }

  /** Starts it (again) and waits for /readyz, asking with the token of `kubeconfig`. */
  async start(kubeconfig: string, timeoutMs = 60_000): Promise<void> {
    const log = join(this.#logDir, `kube-apiserver-extra-${++this.#starts}.log`);
    const out = execFileSync(this.#launcher, [String(this.#port), log], { encoding: "utf8" });
    this.#pid = Number(out.trim());
    const config = parse(readFileSync(kubeconfig, "utf8")) as Kubeconfig;
    const token = config.users[0]?.user.token;
    const ca = Buffer.from(config.clusters[0]?.cluster["certificate-authority-data"] ?? "", "base64");
    const dispatcher = new Agent({ connect: { ca } });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const ready = await request(`${this.url}/readyz`, {
          dispatcher,
          headers: { authorization: `Bearer ${token}` },
        }).then(
          async (r) => (await r.body.text()) === "ok",
          () => false,
        );
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`extra kube-apiserver not ready (log: ${log})`);
        await sleep(200);
      }
    } finally {
      await dispatcher.close();
    }
  }

  /** Kills it hard, as a crashed or evicted API server goes, and waits until it is gone. */
  async kill(): Promise<void> {
    const pid = this.#pid;
    if (pid === undefined) return;
    this.#pid = undefined;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      return;
    }
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await sleep(50);
    }
  }

  /** A copy of `kubeconfig` that talks to this API server instead. */
  kubeconfigFrom(kubeconfig: string, file: string): string {
    const config = parse(readFileSync(kubeconfig, "utf8")) as Kubeconfig;
    for (const c of config.clusters) c.cluster.server = this.url;
    writeFileSync(file, stringify(config));
    return file;
  }
}
