// `sluice compile <files|dirs>`: compiles YAML resources the way the operator does and
// prints every object's conditions and the snapshot's version. Exit code 1 when any
// document is refused (does not parse, unknown kind or apiVersion) or any object is not
// accepted, so it can check manifests in a pipeline before `kubectl apply`.

import { compileSnapshot } from "../core/compile/compile.ts";
import { readManifests } from "../core/sources/manifest-files.ts";

export function compileFilesCommand(paths: string[]) {
  // The same reader as the gateway's config directory: what one refuses, the other does.
  const { objects, problems } = readManifests(paths);
  for (const p of problems) {
    console.error(p);
    process.exitCode = 1;
  }
  const hashKey = process.env.SLUICE_API_KEY_HASH_KEY ?? "sluice-standalone";
  const { snapshot, statuses } = compileSnapshot(objects, { apiKeyHashKey: hashKey });
  for (const s of statuses) {
    const summary = s.conditions.map((c) => `${c.type}=${c.status}`).join(" ");
    console.log(`${s.kind} ${s.namespace}/${s.name}: ${summary}`);
    for (const c of s.conditions)
      if (c.status === "False" || c.type === "Conflicted" || c.type === "Fallback")
        console.log(`  ${c.type} ${c.reason}: ${c.message}`);
    if (s.conditions.some((c) => c.type === "Accepted" && c.status === "False")) process.exitCode = 1;
  }
  console.log(
    `snapshot ${snapshot.version}: ${snapshot.virtualHosts.length} hosts, ${snapshot.rules.length} rules, ${snapshot.pools.length} pools, ${snapshot.rateLimitPolicies.length} rate-limit and ${snapshot.authzPolicies.length} authz policies, ${snapshot.apiKeys.keys.length} API keys`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  compileFilesCommand(process.argv.length > 2 ? process.argv.slice(2) : ["config/samples"]);
}
