// Reads resource manifests from files and directories: the one reader behind standalone
// mode's config directory and `sluice compile`, so both see the same objects. Nothing is
// dropped silently: a document that does not parse, is not an object, or is of a kind or
// apiVersion Sluice does not read is a problem naming the file and the object — a
// misspelled `kind: AuthzPolicyy` must never quietly remove a policy.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { API_VERSION } from "../api/common.ts";
import { KINDS } from "../api/kinds.ts";

/** Kinds read besides Sluice's own: what its resources refer to, with their one apiVersion. */
const REFERENCED: Record<string, string> = {
  Secret: "v1",
  Service: "v1",
  EndpointSlice: "discovery.k8s.io/v1",
  ReferenceGrant: "gateway.networking.k8s.io/v1beta1",
};
/** Kinds that live next to manifests by design and mean nothing to the compiler. */
const IGNORED = new Set(["Namespace", "Kustomization"]);
const SLUICE_KINDS = KINDS.map((k) => k.kind);

export interface ManifestRead {
  objects: unknown[];
  /** One line per refused document: "file: document N (Kind ns/name): why". */
  problems: string[];
}

function manifestFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      if (name.startsWith(".")) return []; // editors' swap files, ConfigMap volumes' ..data
      const child = join(path, name);
      if (statSync(child).isDirectory()) return manifestFiles(child);
      return /\.(ya?ml|json)$/.test(name) ? [child] : [];
    });
}

/** Edit distance up to a small bound, for "did you mean" on a misspelled kind. */
function near(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (Math.abs(x.length - y.length) > 2) return false;
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++)
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
    prev = row;
  }
  return (prev[y.length] as number) <= 2;
}

/** Why a parsed document is not read, or undefined when it is (or is ignored by design). */
function refusal(doc: unknown): string | undefined {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return "not a resource (expected a mapping)";
  const { apiVersion, kind } = doc as { apiVersion?: unknown; kind?: unknown };
  if (typeof kind !== "string" || kind === "") return "kind: required";
  if (typeof apiVersion !== "string" || apiVersion === "") return "apiVersion: required";
  if (IGNORED.has(kind)) return undefined;
  if (SLUICE_KINDS.includes(kind)) {
    return apiVersion === API_VERSION
      ? undefined
      : `apiVersion: "${apiVersion}" is not supported for ${kind}; use "${API_VERSION}"`;
  }
  const referenced = REFERENCED[kind];
  if (referenced !== undefined) {
    return apiVersion === referenced
      ? undefined
      : `apiVersion: "${apiVersion}" is not supported for ${kind}; use "${referenced}"`;
  }
  const guess = [...SLUICE_KINDS, ...Object.keys(REFERENCED)].find((k) => near(kind, k));
  return `kind: "${kind}" is not a kind Sluice reads${guess ? ` (did you mean "${guess}"?)` : ""}; it reads ${SLUICE_KINDS.join(", ")}, ${Object.keys(REFERENCED).join(", ")}`;
}

function describe(doc: unknown): string {
  const o = (typeof doc === "object" && doc !== null ? doc : {}) as {
    kind?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
  };
  const name = typeof o.metadata?.name === "string" ? o.metadata.name : "(no name)";
  const ns = typeof o.metadata?.namespace === "string" ? `${o.metadata.namespace}/` : "";
  return `${typeof o.kind === "string" ? o.kind : "(no kind)"} ${ns}${name}`;
}

/**
 * Reads every manifest under `paths` (files, or directories walked recursively; dotfiles
 * skipped). Paths in problems are relative to `base` when given.
 */
export function readManifests(paths: readonly string[], base?: string): ManifestRead {
  const out: ManifestRead = { objects: [], problems: [] };
  for (const file of paths.flatMap(manifestFiles)) {
    const shown = base ? relative(base, file) : file;
    for (const [i, doc] of parseAllDocuments(readFileSync(file, "utf8")).entries()) {
      if (doc.errors.length > 0) {
        out.problems.push(`${shown}: document ${i + 1}: ${doc.errors[0]?.message}`);
        continue;
      }
      const value = doc.toJS();
      if (value === null || value === undefined) continue;
      const why = refusal(value);
      if (why) out.problems.push(`${shown}: document ${i + 1} (${describe(value)}): ${why}`);
      else if (!IGNORED.has((value as { kind: string }).kind)) out.objects.push(value);
    }
  }
  return out;
}
