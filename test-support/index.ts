// What every test file needs around its assertions, written once: ports, waiting and
// cleanup. Not a test file itself; the integration, e2e and bench harnesses build on it.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach } from "vitest";

export { sleep };

/** Ports freePort has handed out in this process. */
const givenOut = new Set<number>();

/**
 * A loopback port nothing listens on: bound on port 0, read and released. Good for a
 * process that is about to listen on it, and for a backend that must refuse connections.
 */
export async function freePort(): Promise<number> {
  // The kernel may hand out a port it handed out a moment ago: a test asking for three dead
  // endpoints once got two alike, and the pool was refused for its duplicate endpoint. A
  // port is given out once per process.
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (givenOut.has(port)) continue;
    givenOut.add(port);
    return port;
  }
}

/** A port nothing listens on; the name says why the test wants it. */
export const deadPort = freePort;

export interface EventuallyOptions {
  /** How long to keep trying before failing (default 5 s). */
  timeoutMs?: number;
  /** The pause between two checks (default 10 ms). */
  intervalMs?: number;
  /** Appended to the timeout message, e.g. where the logs are. */
  hint?: string;
}

/**
 * Polls `check` until it returns something other than `undefined` or `false`, and resolves
 * with that value; rejects after `timeoutMs` with a message naming `what`. The check runs
 * once more after the deadline, so a slow check is not failed by its own duration.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 5000, intervalMs = 10, hint }: EventuallyOptions = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const expired = performance.now() > deadline;
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (expired) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${hint ? ` (${hint})` : ""}`);
    }
    await sleep(intervalMs);
  }
}

/** Like `eventually`, but resolves with the milliseconds it took, for tests that measure it. */
export async function timeUntil(
  what: string,
  check: () => unknown | Promise<unknown>,
  options: EventuallyOptions = {},
): Promise<number> {
  const start = performance.now();
  await eventually(what, check as () => unknown, options);
  return performance.now() - start;
}

export interface Cleanups {
  /** Registers a cleanup; cleanups run last registered first, even when a test or hook failed. */
  defer(cleanup: () => unknown): void;
}

function cleanupsRunBy(hook: typeof afterEach): Cleanups {
  const cleanups: (() => unknown)[] = [];
  hook(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}

/**
 * Cleanups that run after each test of the calling file. Call once at the top of a test
 * file; `defer` what a test starts as soon as it has started it.
 */
export const cleanupAfterEach = (): Cleanups => cleanupsRunBy(afterEach);

/**
 * Cleanups that run once after the calling file's (or describe block's) tests: for what a
 * beforeAll starts and its tests share. Also runs when the beforeAll failed halfway.
 */
export const cleanupAfterAll = (): Cleanups => cleanupsRunBy(afterAll);
