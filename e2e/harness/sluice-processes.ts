// Sluice's operator and gateway as local processes, with the same CLI and flags as in the
// chart, each logging to a file in one directory per test file; plus the small HTTP and
// polling helpers the black-box tests share.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { eventually, freePort } from "../../test-support/index.ts";
import { ROOT } from "./install.ts";

export interface GatewayProcess {
  url: string;
  admin: string;
  child: ChildProcess;
}

export interface OperatorProcess {
  admin: string;
  child: ChildProcess;
}

export class SluiceProcesses {
  readonly logs = mkdtempSync(join(tmpdir(), "sluice-e2e-logs-"));
  readonly #children: ChildProcess[] = [];
  readonly #command: string[];

  /** `command`: how to run `sluice` (default: the sources; benches run the image's way). */
  constructor(command: string[] = [process.execPath, join(ROOT, "cli/sluice.ts")]) {
    this.#command = command;
  }

  spawn(name: string, env: Record<string, string>, args: string[]): ChildProcess {
    const [program = process.execPath, ...prefix] = this.#command;
    const child = spawn(program, [...prefix, ...args], {
      cwd: ROOT,
      env: { ...process.env, SLUICE_LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = createWriteStream(join(this.logs, `${name}.log`));
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.#children.push(child);
    return child;
  }

  /**
   * An operator replica with short leader-election durations (3 s lease), so tests are quick;
   * `args`: more flags (e.g. what a chart value renders).
   */
  async operator(
    identity: string,
    kubeconfig: string,
    namespace: string,
    args: string[] = [],
  ): Promise<OperatorProcess> {
    const admin = await freePort();
    const child = this.spawn(identity, {}, [
      "operator",
      "--kubeconfig",
      kubeconfig,
      "--namespace",
      namespace,
      "--identity",
      identity,
      "--lease-duration-ms",
      "3000",
      "--renew-deadline-ms",
      "2000",
      "--retry-period-ms",
      "300",
      "--admin-listen",
      `127.0.0.1:${admin}`,
      "--usage-interval-ms",
      "1000",
      ...args,
    ]);
    return { admin: `http://127.0.0.1:${admin}`, child };
  }

  /** A gateway replica serving the snapshot Secret `secret` (namespace/name). */
  async gateway(
    identity: string,
    kubeconfig: string,
    secret: string,
    env: Record<string, string> = {},
  ): Promise<GatewayProcess> {
    const port = await freePort();
    const admin = await freePort();
    const child = this.spawn(identity, env, [
      "gateway",
      "--snapshot-secret",
      secret,
      "--kubeconfig",
      kubeconfig,
      "--listen",
      `127.0.0.1:${port}`,
      "--admin-listen",
      `127.0.0.1:${admin}`,
      "--identity",
      identity,
    ]);
    return { url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${admin}`, child };
  }

  /**
   * Stops every process the way Kubernetes does (SIGTERM, then SIGKILL after a grace period),
   * so gateways withdraw their reports and the leader releases its Lease: the next test
   * file's Programmed conditions do not wait for the reports of replicas that are gone.
   */
  async stopAll(graceMs = 5_000): Promise<void> {
    const running = this.#children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (child) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
            child.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }

  /** Polls until check() returns a value (not undefined) or the timeout passes. */
  until<T>(
    what: string,
    check: () => Promise<T | undefined> | T | undefined,
    timeoutMs = 15_000,
  ): Promise<T> {
    return eventually(what, check, { timeoutMs, intervalMs: 50, hint: `logs in ${this.logs}` });
  }
}

/** GET through the gateway with a Host header; a connection failure is status 0. */
export async function get(
  url: string,
  path: string,
  host: string,
): Promise<{ status: number; body: string }> {
  try {
    const res = await request(`${url}${path}`, { headers: { host } });
    return { status: res.statusCode, body: await res.body.text() };
  } catch {
    return { status: 0, body: "" };
  }
}
