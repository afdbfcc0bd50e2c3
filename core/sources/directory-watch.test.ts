// watchDirectory alone: directory events (the fingerprint poll turned off) see every
// inode-replacing change and the edits after it; the poll alone sees an edit to a
// symlink's target outside the directory, which no directory event reports.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type DirectoryWatch, watchDirectory } from "./directory-watch.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sluice-watch-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Counts onChange calls; `next()` waits for one more than when it was last called. */
function watched(dir: string, pollMs: number) {
  let calls = 0;
  const w: DirectoryWatch = watchDirectory(dir, () => calls++, 20, { pollMs });
  cleanups.push(() => w.close());
  let seen = 0;
  return {
    async next(what: string, ms = 1500) {
      const deadline = performance.now() + ms;
      while (calls === seen) {
        if (performance.now() > deadline) throw new Error(`no change reported after ${what}`);
        await sleep(5);
      }
      await sleep(60); // let the debounce settle so one change counts once
      seen = calls;
    },
    async quiet(ms = 300) {
      await sleep(ms);
      expect(calls).toBe(seen);
    },
  };
}

describe("watchDirectory on directory events alone", () => {
  it("reports in-place edits after a rename-save", async () => {
    const dir = tempDir();
    const file = join(dir, "policy.yaml");
    writeFileSync(file, "a: 1\n");
    const w = watched(dir, 0);
    writeFileSync(join(dir, "sedAb12Cd"), "a: 2\n");
    renameSync(join(dir, "sedAb12Cd"), file);
    await w.next("the rename-save");
    for (const n of [3, 4, 5]) {
      writeFileSync(file, `a: ${n}\n`);
      await w.next(`in-place edit ${n}`);
    }
  });

  it("reports files in subdirectories, including ones created after the watch began", async () => {
    const dir = tempDir();
    const w = watched(dir, 0);
    mkdirSync(join(dir, "team"));
    await w.next("mkdir");
    writeFileSync(join(dir, "team", "route.yaml"), "a: 1\n");
    await w.next("a new file in the new subdirectory");
    writeFileSync(join(dir, "team", ".route.yaml.tmp"), "a: 2\n");
    renameSync(join(dir, "team", ".route.yaml.tmp"), join(dir, "team", "route.yaml"));
    await w.next("a rename-save in the subdirectory");
    writeFileSync(join(dir, "team", "route.yaml"), "a: 3\n");
    await w.next("an in-place edit in the subdirectory");
  });

  it("reports each ..data swap of a ConfigMap-style volume and ignores other dot-files", async () => {
    const dir = tempDir();
    const publish = (name: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "policy.yaml"), `name: ${name}\n`);
      symlinkSync(name, join(dir, "..data_tmp"));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    };
    publish("..gen1");
    symlinkSync("..data/policy.yaml", join(dir, "policy.yaml"));
    const w = watched(dir, 0);
    publish("..gen2");
    await w.next("the first swap");
    rmSync(join(dir, "..gen1"), { recursive: true });
    publish("..gen3");
    await w.next("the second swap");
    await w.quiet();
    writeFileSync(join(dir, ".policy.yaml.swp"), "editor state");
    await w.quiet();
  });
});

describe("watchDirectory's fingerprint poll", () => {
  it("reports an edit to a symlink's target outside the directory", async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    writeFileSync(join(elsewhere, "policy.yaml"), "a: 1\n");
    symlinkSync(join(elsewhere, "policy.yaml"), join(dir, "policy.yaml"));
    const w = watched(dir, 50);
    await w.quiet(200); // an unchanged directory reports nothing
    writeFileSync(join(elsewhere, "policy.yaml"), "a: 22\n");
    await w.next("the edit of the target");
    await w.quiet(200);
  });
});
