// `sluice compile <files|dirs>`: compiles YAML resources the way the operator does and
// prints every object's conditions and the snapshot's version. Exit code 1 when any
// object is not accepted, so it can check manifests in a pipeline before `kubectl apply`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { compileSnapshot } from "../compile/compile.ts";

function yamlFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((f) =>
      /\.ya?ml$/.test(f) || statSync(join(path, f)).isDirectory() ? yamlFiles(join(path, f)) : [],
    );
}

export function compileFilesCommand(paths: string[]) {
  const objects: unknown[] = [];
  for (const file of paths.flatMap(yamlFiles)) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (doc.errors.length > 0) {
        console.error(`${file}: ${doc.errors[0]?.message}`);
        process.exitCode = 1;
        continue;
      }
      const value = doc.toJS();
      if (
        value !== null &&
        !(typeof value === "object" && (value as { kind?: unknown }).kind === "Kustomization")
      ) {
        objects.push(value);
      }
    }
  }
  const hashKey = process.env.SLUICE_API_KEY_HASH_KEY ?? "sluice-standalone";
  const { snapshot, statuses } = compileSnapshot(objects, { apiKeyHashKey: hashKey });
  for (const s of statuses) {
    const summary = s.conditions.map((c) => `${c.type}=${c.status}`).join(" ");
    console.log(`${s.kind} ${s.namespace}/${s.name}: ${summary}`);
    for (const c of s.conditions)
      if (c.status === "False" || c.type === "Conflicted")
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
