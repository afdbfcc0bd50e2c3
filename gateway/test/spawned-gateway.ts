// A gateway started by the real CLI as its own process, on a standalone directory: what the
// tests of more than one process (--workers, replicas sharing Redis) and of what the CLI
// alone loads (gateway-process.test.ts) run, where startTestGateway's in-process gateway
// would not do.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { request } from "undici";
import { eventually, freePort } from "../../test-support/index.ts";

const ROOT = join(import.meta.dirname, "../..");

export interface SpawnedGateway {
  url: string;
  admin: string;
  child: ChildProcess;
}

/**
 * `sluice gateway --config-dir dir …args` (access log off, log level warn, errors on the
 * test's stderr), once its /readyz answers 200 with a body `ready` accepts. The caller
 * kills it; if it never gets ready it is killed here.
 */
export async function spawnGateway(
  dir: string,
  args: string[] = [],
  ready: (body: Record<string, unknown>) => boolean = () => true,
): Promise<SpawnedGateway> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const admin = `http://127.0.0.1:${adminPort}`;
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "cli/sluice.ts"),
      "gateway",
      "--config-dir",
      dir,
      "--listen",
      `127.0.0.1:${port}`,
      "--admin-listen",
      `127.0.0.1:${adminPort}`,
      "--access-log=false",
      ...args,
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, SLUICE_LOG_LEVEL: "warn" } },
  );
  try {
    await eventually(
      "the gateway process to get ready",
      () =>
        request(`${admin}/readyz`).then(
          async (r) => {
            const body = await r.body.text();
            return r.statusCode === 200 && ready(JSON.parse(body) as Record<string, unknown>);
          },
          () => false,
        ),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, admin, child };
}
