// Every Ajv in Sluice is made here, with ajv's code optimisation off.
//
// Why: that pass (dropping unused names from the generated code) counts the names of every
// node of the code tree in a fresh `{}` keyed by the generated name (`err12`, `_errs40`,
// `data7`, ...). Each distinct first key is a transition from V8's one map for `{}`, and V8
// keeps at most 1,536 of them: compiling the kinds', the snapshot's and the gateway config's
// schemas used them all. While they are used up, an object made from `{}` (or from a literal
// that starts with a computed key, as Node's process.nextTick makes one per call) whose
// first property is not among them gets a map of its own, every time, and a store site that
// has seen five maps stays on V8's slow path. Seen: in CPU-profiled gateways nextTick went
// from ~2 % to ~8 % of the CPU in 3 runs of 5 (perf: V8's DefineKeyedOwnPropertyInLiteral
// runtime call); not seen in unprofiled runs, whose throughput did not move with this change
// (docs/benchmarks.md). The validators check the same either way; their code is a few unused
// variables longer. gateway/test/plain-object-maps.test.ts keeps the room measured.
import { Ajv, type Options } from "ajv";

export function createAjv(options: Options): Ajv {
  return new Ajv({ ...options, code: { ...options.code, optimize: false } });
}
