// Runs deploy/argocd/health.lua with Debian's lua5.4 the way Argo CD runs a health check:
// the object as the global `obj`, the script's returned table as the verdict.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { ROOT } from "../harness/install.ts";

export const HEALTH_SCRIPT = join(ROOT, "deploy/argocd/health.lua");
const dir = mkdtempSync(join(tmpdir(), "sluice-argocd-lua-"));
// Each test file that uses this made one of these and left it behind.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A JSON value as a Lua table constructor (arrays 1-based, as Argo CD converts them). */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(", ")}}`;
  const fields = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `[${JSON.stringify(k)}] = ${luaLiteral(v)}`,
  );
  return `{${fields.join(", ")}}`;
}

export function argoHealth(object: unknown, script = HEALTH_SCRIPT): { status: string; message: string } {
  const file = join(dir, `obj-${files++}.lua`);
  writeFileSync(file, `return ${luaLiteral(object)}\n`);
  const out = execFileSync("lua5.4", [join(ROOT, "deploy/argocd/run-health.lua"), script, file], {
    encoding: "utf8",
  });
  const [status = "", message = ""] = out.replace(/\n$/, "").split("\t");
  return { status, message };
}
