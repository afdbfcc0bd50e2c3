// The dependency rule of docs/adr/0004-layout-and-dependency-rule.md, checked on every
// `make lint`: each area imports only the areas below it, and no file imports itself back
// through others (no cycles, type-only imports included: they couple meaning too).
//
//   cli → operator | gateway → core/sources → core/compile | core/kubernetes | core/admin → core/api
//
// Tests and test data are outside the rule (a test may build fixtures from any side).
// Written here rather than taken from dependency-cruiser: that needs TypeScript's compiler
// API to read .ts files, and TypeScript 7 (ours) no longer ships one.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/** Source roots, and the area each path prefix belongs to (first match wins). */
const AREAS: [prefix: string, area: string][] = [
  ["cli/", "cli"],
  ["operator/src/", "operator"],
  ["gateway/src/", "gateway"],
  ["core/sources/", "core/sources"],
  ["core/compile/", "core/compile"],
  ["core/kubernetes/", "core/kubernetes"],
  ["core/admin/", "core/admin"],
  ["core/api/", "core/api"],
];

/** What each area may import besides itself. */
export const ALLOWED: Record<string, readonly string[]> = {
  cli: ["operator", "gateway", "core/sources", "core/compile", "core/kubernetes", "core/admin", "core/api"],
  operator: ["core/sources", "core/compile", "core/kubernetes", "core/admin", "core/api"],
  gateway: ["core/sources", "core/compile", "core/kubernetes", "core/admin", "core/api"],
  "core/sources": ["core/compile", "core/kubernetes", "core/api"],
  "core/compile": ["core/api"],
  "core/kubernetes": ["core/api"],
  "core/admin": ["core/api"],
  "core/api": [],
};

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*["'](\.[^"']+)["']|\bimport\s*\(\s*["'](\.[^"']+)["']\s*\)|(?:^|\n)\s*import\s*["'](\.[^"']+)["']/g;

export function areaOf(path: string): string | undefined {
  return AREAS.find(([prefix]) => path.startsWith(prefix))?.[1];
}

function sources(root: string, dir: string): string[] {
  const full = join(root, dir);
  let names: string[];
  try {
    names = readdirSync(full);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "testdata" || name.startsWith(".")) return [];
    if (statSync(join(root, path)).isDirectory()) return sources(root, path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every relative import of every source file, resolved to a path from `root`. */
export function importGraph(root: string): Map<string, string[]> {
  const files = ["cli", "core", "operator/src", "gateway/src"].flatMap((d) => sources(root, d));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    const targets = [...text.matchAll(IMPORT)].map((m) =>
      normalize(join(dirname(file), m[1] ?? m[2] ?? m[3] ?? "")),
    );
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan), and files importing themselves. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** One line per broken rule: a forbidden import or a cycle. */
export function violations(root: string): string[] {
  const graph = importGraph(root);
  const out: string[] = [];
  for (const [file, targets] of graph) {
    const from = areaOf(file);
    for (const target of targets) {
      const to = areaOf(target);
      if (!from || !to || from === to) continue;
      if (!(ALLOWED[from] ?? []).includes(to))
        out.push(
          `${file} → ${target}: ${from} must not import ${to} (docs/adr/0004-layout-and-dependency-rule.md)`,
        );
    }
  }
  for (const scc of cycles(graph)) out.push(`import cycle: ${scc.join(" → ")}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = join(dirname(new URL(import.meta.url).pathname), "..");
  const found = violations(root);
  for (const v of found) console.error(v);
  const files = importGraph(root).size;
  if (found.length > 0) {
    console.error(`${found.length} dependency rule violation(s) in ${files} files`);
    process.exit(1);
  }
  console.log(
    `dependency rule: ${files} files, no forbidden import, no cycle (${relative(process.cwd(), root) || "."})`,
  );
}
