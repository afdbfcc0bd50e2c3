// The dependency rule's checker on small trees: a forbidden import and a cycle are each
// reported, an allowed tree is not — and this repository keeps the rule.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { violations } from "./check-dependencies.ts";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "sluice-deps-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("check-dependencies", () => {
  it("accepts imports that go down the layers", () => {
    const root = tree({
      "cli/sluice.ts": 'import { a } from "../gateway/src/a.ts";',
      "gateway/src/a.ts": 'import type { S } from "../../core/api/s.ts";\nexport const a = 1;',
      "operator/src/o.ts": 'import { compile } from "../../core/compile/compile.ts";',
      "core/compile/compile.ts": 'export { S } from "../api/s.ts";',
      "core/api/s.ts": "export type S = string;",
    });
    expect(violations(root)).toEqual([]);
  });

  it.each([
    ["gateway/src/a.ts", 'import { o } from "../../operator/src/o.ts";', "gateway must not import operator"],
    ["operator/src/o.ts", 'import { a } from "../../gateway/src/a.ts";', "operator must not import gateway"],
    ["core/api/s.ts", 'import { c } from "../compile/compile.ts";', "core/api must not import core/compile"],
    [
      "core/compile/compile.ts",
      'const k = await import("../kubernetes/k.ts");',
      "core/compile must not import core/kubernetes",
    ],
    ["core/kubernetes/k.ts", 'export * from "../../cli/sluice.ts";', "core/kubernetes must not import cli"],
  ])("refuses %s importing upwards", (file, text, message) => {
    const root = tree({
      "operator/src/o.ts": "export const o = 1;",
      "gateway/src/a.ts": "export const a = 1;",
      "core/compile/compile.ts": "export const c = 1;",
      "core/kubernetes/k.ts": "export const k = 1;",
      "core/api/s.ts": "export const s = 1;",
      "cli/sluice.ts": "",
      [file]: text,
    });
    expect(violations(root).join("\n")).toContain(message);
  });

  it("reports a cycle, type-only imports included", () => {
    const root = tree({
      "gateway/src/a.ts": 'import type { B } from "./b.ts";\nexport type A = 1;',
      "gateway/src/b.ts": 'import type { C } from "./c.ts";\nexport type B = 1;',
      "gateway/src/c.ts": 'import type { A } from "./a.ts";\nexport type C = 1;',
    });
    expect(violations(root)).toEqual([
      "import cycle: gateway/src/a.ts → gateway/src/b.ts → gateway/src/c.ts",
    ]);
  });

  it("holds for this repository", () => {
    expect(violations(join(import.meta.dirname, ".."))).toEqual([]);
  });
});
