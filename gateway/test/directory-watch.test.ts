// Standalone config directories are edited in ways that replace a file's inode: `sed -i`
// and editors' safe write (write a temporary file, rename it over), `mv new policy.yaml`,
// and Kubernetes ConfigMap/Secret volumes (an atomic swap of the `..data` symlink). Each
// test makes such a change and then more edits, and checks through the gateway that every
// one is served within RELOAD_BOUND_MS, without anything else in the directory changing.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { sleep } from "../../test-support/index.ts";
import { closeAfterEach, pool, simpleRoute, type TestGateway } from "./harness.ts";

const { upstream, gateway, defer } = closeAfterEach();

// The watch debounces 200 ms; its fingerprint poll runs every second. Events alone serve
// an edit in about 250 ms; the bound leaves room for a busy machine.
const RELOAD_BOUND_MS = 2500;

const prefix = (value: string) => ({ matches: [{ path: { type: "PathPrefix", value } }] });

/** A route file whose only route serves `/<version>` from pool a. */
const routeYaml = (version: string) => stringify(simpleRoute("r", "a", prefix(`/${version}`)));

/** Waits until `/<version>/x` answers 200 and the previous version 404; returns the ms it took. */
async function served(gw: TestGateway, version: string, previous?: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    const res = await gw.request(`/${version}/x`);
    await res.body.dump();
    if (res.statusCode === 200) break;
    const waited = performance.now() - start;
    if (waited > RELOAD_BOUND_MS) throw new Error(`/${version} not served after ${Math.round(waited)} ms`);
    await sleep(20);
  }
  const took = performance.now() - start;
  if (previous) {
    const res = await gw.request(`/${previous}/x`);
    await res.body.dump();
    expect(res.statusCode).toBe(404);
  }
  return took;
}

/** Writes in place: same inode, truncated and rewritten, as `>` or most editors' plain save do. */
function writeInPlace(path: string, text: string) {
  const before = statSync(path).ino;
  writeFileSync(path, text);
  expect(statSync(path).ino).toBe(before);
}

describe("config directory watch", () => {
  it("serves a sed -i rename-save and the two in-place edits after it", async () => {
    const up = await upstream("a");
    const gw = await gateway([pool("a", [up.port])]);
    const file = join(gw.dir, "policy.yaml");
    writeFileSync(file, routeYaml("v1"));
    const took = [await served(gw, "v1")];

    const before = statSync(file).ino;
    execFileSync("sed", ["-i", "s|value: /v1$|value: /v2|", file]);
    expect(statSync(file).ino).not.toBe(before); // sed -i wrote a new file and renamed it over
    took.push(await served(gw, "v2", "v1"));

    writeInPlace(file, routeYaml("v3"));
    took.push(await served(gw, "v3", "v2"));
    writeInPlace(file, routeYaml("v4"));
    took.push(await served(gw, "v4", "v3"));
    console.info(`sed -i then in-place edits served after ${took.map(Math.round).join(", ")} ms`);
  });

  it("serves `mv new policy.yaml` and the in-place edits after it", async () => {
    const up = await upstream("a");
    const gw = await gateway([pool("a", [up.port])]);
    const file = join(gw.dir, "policy.yaml");
    writeFileSync(file, routeYaml("v1"));
    const took = [await served(gw, "v1")];

    // Written outside the directory, as one would, then moved over the watched file.
    const staging = mkdtempSync(join(tmpdir(), "sluice-new-"));
    defer(() => rmSync(staging, { recursive: true, force: true }));
    writeFileSync(join(staging, "new.yaml"), routeYaml("v2"));
    execFileSync("mv", [join(staging, "new.yaml"), file]);
    took.push(await served(gw, "v2", "v1"));

    writeInPlace(file, routeYaml("v3"));
    took.push(await served(gw, "v3", "v2"));
    writeInPlace(file, routeYaml("v4"));
    took.push(await served(gw, "v4", "v3"));
    console.info(`mv then in-place edits served after ${took.map(Math.round).join(", ")} ms`);
  });

  it("serves each swap of a ConfigMap volume's ..data symlink", async () => {
    const up = await upstream("a");
    // The layout the kubelet's atomic writer makes: `policy.yaml -> ..data/policy.yaml`,
    // `..data -> ..<timestamp>`; an update writes a new timestamped directory, points
    // `..data_tmp` at it, renames `..data_tmp` over `..data` and removes the old directory.
    const dir = mkdtempSync(join(tmpdir(), "sluice-configmap-"));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    let generation = "";
    const publish = (n: number, version: string) => {
      const next = `..2026_01_01_00_00_0${n}.${n}`;
      mkdirSync(join(dir, next));
      writeFileSync(
        join(dir, next, "policy.yaml"),
        `${stringify(pool("a", [up.port]))}---\n${routeYaml(version)}`,
      );
      symlinkSync(next, join(dir, "..data_tmp"));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
      if (generation) rmSync(join(dir, generation), { recursive: true });
      generation = next;
    };
    publish(1, "v1");
    symlinkSync("..data/policy.yaml", join(dir, "policy.yaml"));
    const gw = await gateway([], { configDir: dir });
    const took = [await served(gw, "v1")];

    publish(2, "v2");
    took.push(await served(gw, "v2", "v1"));
    publish(3, "v3");
    took.push(await served(gw, "v3", "v2"));
    console.info(`..data swaps served after ${took.map(Math.round).join(", ")} ms`);
  });
});
