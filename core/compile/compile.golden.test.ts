// Golden tests: testdata/<case>.in.yaml (objects) → <case>.out.yaml (snapshot + statuses).
// A case with a <case>.before.yaml compiles that world first and passes its snapshot as
// the previous one (what was served before an edit: last known good). A <case>.options.yaml
// holds compile options for both compiles (budgets).
// UPDATE_GOLDEN=1 rewrites the .out.yaml files; review the diff before committing it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { snapshotProblems } from "../api/snapshot/validate.ts";
import { compileSnapshot } from "./compile.ts";

const dir = join(dirname(fileURLToPath(import.meta.url)), "testdata");
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".in.yaml"))
  .map((f) => f.slice(0, -".in.yaml".length))
  .sort();
const GOLDEN_HASH_KEY = "golden-test-hash-key";

function load(name: string, suffix = "in"): unknown[] {
  return parseAllDocuments(readFileSync(join(dir, `${name}.${suffix}.yaml`), "utf8"))
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}

describe("compileSnapshot golden files", () => {
  it("has enough cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)("%s", (name) => {
    const options = existsSync(join(dir, `${name}.options.yaml`)) ? (load(name, "options")[0] as object) : {};
    const previous = existsSync(join(dir, `${name}.before.yaml`))
      ? compileSnapshot(load(name, "before"), { ...options, apiKeyHashKey: GOLDEN_HASH_KEY }).snapshot
      : undefined;
    const result = compileSnapshot(load(name), {
      ...options,
      apiKeyHashKey: GOLDEN_HASH_KEY,
      ...(previous ? { previous } : {}),
    });
    expect(snapshotProblems(result.snapshot)).toEqual([]);
    const actual = stringify(result, { lineWidth: 0 });
    const outFile = join(dir, `${name}.out.yaml`);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(outFile, actual);
    expect(actual).toBe(readFileSync(outFile, "utf8"));
  });
});
