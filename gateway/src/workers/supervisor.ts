// The primary's workers (node:cluster): forked, told how to start, watched, restarted.
//   - The first worker listens before the others fork: with --listen …:0 it picks the port
//     and the others bind the same one.
//   - A worker that exits unasked is restarted in its place, after a pause that doubles
//     with each recent exit (100 ms … 5 s); more than MAX_EXITS within EXIT_WINDOW_MS and
//     the supervisor gives up (the primary then exits 1): a worker that dies on every
//     start must not be restarted forever while the pod looks alive.
//   - A drain tells every worker to drain as one process would and waits for their exits,
//     at most drainMs and a margin; whoever is left is killed.
// Each worker's stdout is its own pipe, relayed by line (output-relay.ts).
import cluster, { type Worker } from "node:cluster";
import { extname, join } from "node:path";
import type { Logger } from "pino";
import { ConfigInvalidError, hasCode, WorkersFailedError } from "../../../core/api/errors.ts";
import type { Output } from "./output-relay.ts";
import type { FromWorker, StartMessage, ToWorker } from "./protocol.ts";

const MAX_EXITS = 5;
const EXIT_WINDOW_MS = 60_000;
const ASK_TIMEOUT_MS = 2_000;
/** Beyond --drain-ms: a worker's last access-log lines and exit. */
const DRAIN_MARGIN_MS = 5_000;

export interface WorkerState {
  readonly index: number;
  readonly pid: number;
  /** Its listener is up: the kernel sends it connections. */
  listening: boolean;
  /** The snapshot version it serves. */
  serving: string | undefined;
}

export interface WorkerLink {
  readonly state: WorkerState;
  send(m: ToWorker): void;
}

export interface SupervisorOptions {
  count: number;
  /** The --listen port; 0 until the first worker has picked one. */
  port: number;
  log: Logger;
  output: Output;
  startMessage: (index: number, port: number) => StartMessage;
  /** Every message but those the supervisor answers itself (listening, answer, failed). */
  onMessage: (from: WorkerLink, m: FromWorker) => void;
  /** A worker is gone (after its last message); `restarting` unless the pool drains or gave up. */
  onExit: (state: WorkerState, restarting: boolean) => void;
  /** Workers kept exiting: the supervisor stopped the rest. */
  onGiveUp: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  link: WorkerLink;
  /** Why it could not start, when it said so before exiting. */
  failure?: { code: string | undefined; message: string };
}

export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #slots = new Map<number, Slot>();
  readonly #asks = new Map<number, (index: number, body: unknown) => void>();
  #port: number;
  #exits: number[] = [];
  #nextAsk = 1;
  /** Set once every worker first listened: from then on an exit is restarted. */
  #running = false;
  #stopping = false;

  constructor(o: SupervisorOptions) {
    this.#o = o;
    this.#port = o.port;
    cluster.setupPrimary({
      // worker-main.ts from the sources, worker-main.js in the image (built, scripts/build-dist.sh).
      exec: join(import.meta.dirname, `worker-main${extname(import.meta.filename)}`),
      args: [],
      // Structured clone: a snapshot crosses as it is, without a JSON round trip.
      serialization: "advanced",
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
  }

  /** The data-plane port every worker listens on (picked by the first with --listen …:0). */
  get port(): number {
    return this.#port;
  }

  /** The workers running now, by index. */
  get workers(): WorkerState[] {
    return [...this.#slots.values()].map((s) => s.link.state).sort((a, b) => a.index - b.index);
  }

  /** Forks every worker; resolves once all listen, rejects (all stopped) if one cannot start. */
  async start(): Promise<void> {
    try {
      await this.#fork(0);
      await Promise.all(Array.from({ length: this.#o.count - 1 }, (_, i) => this.#fork(i + 1)));
      this.#running = true;
    } catch (err) {
      await this.#killAll();
      throw err;
    }
  }

  broadcast(m: ToWorker, except?: WorkerState): void {
    for (const slot of this.#slots.values()) if (slot.link.state !== except) slot.link.send(m);
  }

  /** Asks every listening worker; answers within ASK_TIMEOUT_MS, the others are left out. */
  async ask(what: "metrics" | "status"): Promise<{ state: WorkerState; body: unknown }[]> {
    const slots = [...this.#slots.values()].filter((s) => s.link.state.listening);
    const id = this.#nextAsk++;
    const answers: { state: WorkerState; body: unknown }[] = [];
    await new Promise<void>((resolve) => {
      let left = slots.length;
      if (left === 0) return resolve();
      const timer = setTimeout(resolve, ASK_TIMEOUT_MS);
      this.#asks.set(id, (index, body) => {
        const slot = this.#slots.get(index);
        if (slot) answers.push({ state: slot.link.state, body });
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (const s of slots) s.link.send({ t: "ask", id, what });
    });
    this.#asks.delete(id);
    return answers.sort((a, b) => a.state.index - b.state.index);
  }

  /** Every worker drains (its listener, its requests, its log) and exits; stragglers are killed. */
  async drain(drainMs: number): Promise<void> {
    this.#stopping = true;
    const exited = [...this.#slots.values()].map((s) => exitOf(s.worker));
    this.broadcast({ t: "drain" });
    const deadline = setTimeout(() => void this.#killAll(), drainMs + DRAIN_MARGIN_MS);
    await Promise.all(exited);
    clearTimeout(deadline);
  }

  #fork(index: number): Promise<void> {
    const worker = cluster.fork();
    const state: WorkerState = { index, pid: worker.process.pid ?? 0, listening: false, serving: undefined };
    const link: WorkerLink = {
      state,
      send: (m) => {
        // A worker that just exited has no channel; its exit is handled on its own.
        if (worker.isConnected()) worker.send(m, undefined, undefined, () => {});
      },
    };
    const slot: Slot = { worker, link };
    this.#slots.set(index, slot);
    worker.process.on("error", () => {}); // a send racing an exit; the exit says the rest
    if (worker.process.stdout) this.#o.output.relay(worker.process.stdout);
    const listening = Promise.withResolvers<void>();
    worker.on("message", (m: FromWorker) => {
      // Sent on hello, not at fork: a message that arrives before the worker's program
      // listens for messages is lost.
      if (m.t === "hello") link.send(this.#o.startMessage(index, this.#port));
      else if (m.t === "listening") {
        state.listening = true;
        if (this.#port === 0) this.#port = m.port;
        listening.resolve();
      } else if (m.t === "answer") this.#asks.get(m.id)?.(index, m.body);
      else if (m.t === "failed") slot.failure = { code: m.code, message: m.message };
      this.#o.onMessage(link, m);
    });
    worker.once("exit", (code, signal) => {
      if (this.#slots.get(index) === slot) this.#slots.delete(index);
      state.listening = false;
      listening.reject(startFailure(index, slot, code, signal));
      this.#exited(state, code, signal);
    });
    return listening.promise;
  }

  #exited(state: WorkerState, code: number | null, signal: string | null): void {
    if (this.#stopping || !this.#running) {
      this.#o.onExit(state, false);
      return;
    }
    const now = Date.now();
    this.#exits = [...this.#exits.filter((t) => t > now - EXIT_WINDOW_MS), now];
    const restarting = this.#exits.length <= MAX_EXITS;
    this.#o.onExit(state, restarting);
    if (!restarting) {
      this.#stopping = true;
      void this.#killAll().then(() =>
        this.#o.onGiveUp(
          new WorkersFailedError(
            `${this.#exits.length} workers exited within ${EXIT_WINDOW_MS / 1000} s (the last: pid ${state.pid}, ${signal ?? `code ${code}`}); giving up`,
          ),
        ),
      );
      return;
    }
    const delay = Math.min(5_000, 100 * 2 ** (this.#exits.length - 1));
    this.#o.log.error(
      { worker: state.index, pid: state.pid, code, signal, restartInMs: delay },
      "gateway worker exited; restarting it",
    );
    setTimeout(() => {
      if (this.#stopping) return;
      this.#fork(state.index).catch((err: Error) =>
        this.#o.log.error({ worker: state.index, err: err.message }, "gateway worker did not start"),
      );
    }, delay);
  }

  async #killAll(): Promise<void> {
    const exits = [...this.#slots.values()].map((s) => {
      s.worker.process.kill("SIGKILL");
      return exitOf(s.worker);
    });
    await Promise.all(exits);
  }
}

function exitOf(worker: Worker): Promise<void> {
  if (worker.process.exitCode !== null || worker.process.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => worker.once("exit", () => resolve()));
}

/** Why a worker exited before listening: what it said, as the error the CLI reports. */
function startFailure(index: number, slot: Slot, code: number | null, signal: string | null): Error {
  const said = slot.failure;
  if (said && hasCode(said, "SLUICE_CONFIG_INVALID"))
    return new ConfigInvalidError(said.message.replace(/^SLUICE_CONFIG_INVALID: /, ""));
  return new WorkersFailedError(
    `worker ${index} did not start: ${said?.message ?? `exited (${signal ?? `code ${code}`})`}`,
  );
}
