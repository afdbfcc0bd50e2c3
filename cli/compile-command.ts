// `sluice compile [--strict] <files|dirs>`: compiles YAML resources the way the operator
// does and prints every object's conditions and the snapshot's version, so manifests can be
// checked in a pipeline before `kubectl apply`. The exit codes are in COMPILE_USAGE.

import { parseArgs } from "node:util";
import type { Condition } from "../core/api/common.ts";
import { compileSnapshot } from "../core/compile/compile.ts";
import { ConditionType, Reason } from "../core/compile/reasons.ts";
import { readManifests } from "../core/sources/manifest-files.ts";

export const COMPILE_USAGE = `  sluice compile [--strict] [--require-hostname-ownership] FILE|DIR...
                  check manifests as the operator will; print each object's conditions
                  (--require-hostname-ownership: as the operator with that flag)
                  exit 0: every object accepted
                  exit 1: a document refused (does not parse, unknown kind or apiVersion) or an object not Accepted;
                          with --strict also any other condition that reports a problem: ResolvedRefs False
                          (a pool's Service, a Secret, a backendRef or a policy target missing), Conflicted True
                  exit 2: a bad command line`;

/**
 * Whether a condition reports a problem --strict fails on. Conflicted and Fallback say True
 * when something is wrong; the others say False. A disabled ApiKey (Active False) is a
 * choice, not a problem.
 */
function isProblem(c: Condition): boolean {
  if (c.type === ConditionType.Conflicted || c.type === ConditionType.Fallback) return c.status === "True";
  if (c.type === ConditionType.Active && c.reason === Reason.Disabled) return false;
  return c.status === "False";
}

/** Runs the command; returns its exit code. Without paths it reads the current directory. */
export function compileFiles(
  args: string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): number {
  let parsed: {
    values: { strict?: boolean; help?: boolean; "require-hostname-ownership"?: boolean };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args,
      options: {
        strict: { type: "boolean" },
        "require-hostname-ownership": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    err((e as Error).message);
    err(`usage:\n${COMPILE_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    out(`usage:\n${COMPILE_USAGE}`);
    return 0;
  }
  const strict = parsed.values.strict === true;
  const paths = parsed.positionals.length > 0 ? parsed.positionals : ["."];

  // The same reader as the gateway's config directory: what one refuses, the other does.
  const { objects, problems } = readManifests(paths);
  for (const p of problems) err(p);
  let notAccepted = 0;
  let withProblems = 0;
  const hashKey = process.env.SLUICE_API_KEY_HASH_KEY ?? "sluice-standalone";
  const { snapshot, statuses } = compileSnapshot(objects, {
    apiKeyHashKey: hashKey,
    ...(parsed.values["require-hostname-ownership"] ? { requireHostnameOwnership: true } : {}),
  });
  for (const s of statuses) {
    const summary = s.conditions.map((c) => `${c.type}=${c.status}`).join(" ");
    out(`${s.kind} ${s.namespace}/${s.name}: ${summary}`);
    for (const c of s.conditions)
      if (c.status === "False" || c.type === "Conflicted" || c.type === "Fallback")
        out(`  ${c.type} ${c.reason}: ${c.message}`);
    if (s.conditions.some((c) => c.type === ConditionType.Accepted && c.status === "False")) notAccepted++;
    else if (s.conditions.some(isProblem)) withProblems++;
  }
  out(
    `snapshot ${snapshot.version}: ${snapshot.virtualHosts.length} hosts, ${snapshot.rules.length} rules, ${snapshot.pools.length} pools, ${snapshot.rateLimitPolicies.length} rate-limit and ${snapshot.authzPolicies.length} authz policies, ${snapshot.apiKeys.keys.length} API keys`,
  );
  if (strict && withProblems > 0)
    err(`--strict: ${withProblems} accepted object${withProblems === 1 ? " reports" : "s report"} a problem`);
  return problems.length > 0 || notAccepted > 0 || (strict && withProblems > 0) ? 1 : 0;
}

export function compileFilesCommand(args: string[]) {
  process.exitCode = compileFiles(args);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  compileFilesCommand(process.argv.length > 2 ? process.argv.slice(2) : ["config/samples"]);
}
