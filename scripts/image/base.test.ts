// The image has two builders that must not drift apart: `docker build` on the official
// node:<NODE_VERSION>-bookworm-slim, and `make image` on the local base scripts/image/base.sh
// makes. Both take the Node version from the Dockerfile's one ARG; the user, the Debian
// release and the image name must agree as well, with the chart that runs the image too.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const repo = join(import.meta.dirname, "..", "..");
const read = (path: string) => readFileSync(join(repo, path), "utf8");
const dockerfile = read("Dockerfile");

/** `key=value` lines of `base.sh --print-inputs`: what the local base is made of. */
function baseInputs(): Record<string, string> {
  const out = execFileSync("bash", [join(repo, "scripts/image/base.sh"), "--print-inputs"], {
    encoding: "utf8",
  });
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );
}

function instruction(name: string): string[] {
  return [...dockerfile.matchAll(new RegExp(`^${name} (.+)$`, "gm"))].map((m) => m[1]?.trim() ?? "");
}

const nodeVersion = /^ARG NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(dockerfile)?.[1];
/** A Dockerfile variable reference, `${NAME}`. */
const ref = (name: string) => `\${${name}}`;

describe("the image's two bases", () => {
  it("the Dockerfile pins one exact Node version, and the default base is that version's slim image", () => {
    expect(nodeVersion).toBeDefined();
    expect(instruction("ARG")).toContain(`NODE_IMAGE=node:${ref("NODE_VERSION")}-bookworm-slim`);
    // Every stage (dependencies, build, the image) starts from that one base.
    const froms = instruction("FROM").map((f) => f.split(" ")[0]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(new Set(froms)).toEqual(new Set([ref("NODE_IMAGE")]));
  });

  it("the local base has that Node version and Debian release", () => {
    const base = baseInputs();
    expect(base.node_version).toBe(nodeVersion);
    expect(base.suite).toBe("bookworm");
    expect(base.image).toContain(`:${nodeVersion}-bookworm-`);
  });

  it("the image's user is the base's node user and the chart's runAsUser", () => {
    const base = baseInputs();
    const user = instruction("USER");
    expect(user).toEqual([`${base.uid}:${base.gid}`]);
    // The official image's node user, which the local base recreates.
    expect([base.user, base.uid, base.gid, base.home]).toEqual(["node", "1000", "1000", "/home/node"]);
    const values = parse(read("charts/sluice/values.yaml"));
    expect(`${values.podSecurityContext.runAsUser}:${values.podSecurityContext.runAsGroup}`).toBe(user[0]);
  });

  it("both stages work in one directory, the one node_modules is copied from", () => {
    const workdirs = new Set(instruction("WORKDIR"));
    expect(workdirs.size).toBe(1);
    const [workdir] = workdirs;
    expect(instruction("COPY")).toContain(`--from=deps ${workdir}/node_modules ./node_modules`);
  });

  it("development runs the image's Node major (scripts/ensure-node.sh)", () => {
    const want = /^want=(\d+)$/m.exec(read("scripts/ensure-node.sh"))?.[1];
    expect(want).toBe(nodeVersion?.split(".")[0]);
  });

  it("make image tags what the chart runs by default: its image.repository at its appVersion", () => {
    const build = read("scripts/image/build.sh");
    const values = parse(read("charts/sluice/values.yaml"));
    expect(build).toContain(`image="${values.image.repository}:$version"`);
    expect(build).toContain("charts/sluice/Chart.yaml");
  });
});
