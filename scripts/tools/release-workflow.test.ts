// The release workflow against the files it publishes: a release is cut rarely, so what
// would break it (a chart bumped in one field only, an image name the chart does not pull, a
// build arg the Dockerfile no longer declares) is caught here, on every unit run, instead.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(import.meta.dirname, "../..");
const CHECK = join(ROOT, "scripts/tools/check-release-tag.sh");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | boolean>;
}
interface Job {
  needs?: string | string[];
  uses?: string;
  permissions?: Record<string, string>;
  steps?: Step[];
}
interface Workflow {
  on: { push?: { tags?: string[] } };
  jobs: Record<string, Job>;
}

const workflow = parse(read(".github/workflows/release.yaml")) as Workflow;
const chart = parse(read("charts/sluice/Chart.yaml")) as { version: string; appVersion: string };
const values = parse(read("charts/sluice/values.yaml")) as { image: { repository: string } };

function step(job: string, pred: (s: Step) => boolean): Step {
  const found = workflow.jobs[job]?.steps?.find(pred);
  if (!found) throw new Error(`no such step in job ${job}`);
  return found;
}
const needs = (job: string) => [workflow.jobs[job]?.needs ?? []].flat();

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function checkTag(tag: string, chartYaml?: string) {
  const args = [tag];
  if (chartYaml !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), "sluice-chart-"));
    dirs.push(dir);
    writeFileSync(join(dir, "Chart.yaml"), chartYaml);
    args.push(dir);
  }
  return spawnSync(CHECK, args, { encoding: "utf8" });
}

describe("release tag check", () => {
  it("runs first, on the pushed tag, and gates everything that publishes", () => {
    expect(workflow.on.push?.tags).toEqual(["v*.*.*"]);
    // Assigned, not inside echo's arguments, where bash -e would not see the check fail.
    expect(step("version", (s) => s.id === "check").run).toMatch(
      /^version="\$\(scripts\/tools\/check-release-tag\.sh "\$GITHUB_REF_NAME"\)"$/m,
    );
    expect(needs("test")).toContain("version");
    expect(needs("image")).toEqual(expect.arrayContaining(["version", "test"]));
    // The chart after the image: a published chart never names an image not yet pushed.
    expect(needs("chart")).toContain("image");
  });

  it("reads the same fields as Helm: the committed chart's tag passes", () => {
    // One tag for both: the image is tagged with it and image.tag defaults to appVersion.
    expect(chart.appVersion).toBe(chart.version);
    const res = checkTag(`v${chart.version}`);
    expect(res.stderr).toBe("");
    expect(res.stdout.trim()).toBe(chart.version);
  });

  it("refuses a tag that differs from version or appVersion, naming the field", () => {
    const bumpedOnce = 'apiVersion: v2\nname: sluice\nversion: 1.2.3 # chart\nappVersion: "1.2.4"\n';
    const res = checkTag("v1.2.3", bumpedOnce);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("appVersion is 1.2.4");
    expect(res.stderr).not.toContain("version is 1.2.3");
    expect(checkTag("1.2.3", "version: 1.2.3\nappVersion: '1.2.3'\n").status).toBe(1);
    expect(checkTag("v1.2.3", "version: 1.2.3\nappVersion: '1.2.3'\n").stdout.trim()).toBe("1.2.3");
  });
});

describe("published names", () => {
  const names = step("version", (s) => s.id === "names").run ?? "";

  it("pushes the image the chart pulls by default, tagged with the version", () => {
    // values.yaml: ghcr.io/sluice-dev/sluice; the workflow: ghcr.io/<owner>/sluice.
    const [registry, , name] = values.image.repository.split("/");
    expect(names).toContain(`image=${registry}/$owner/${name}`);
    const build = step("image", (s) => s.uses?.startsWith("docker/build-push-action@") ?? false);
    const env = (name: string) => `$\{{ env.${name} }}`; // a GitHub expression, spelt out
    expect(build.with?.tags).toBe(`${env("IMAGE")}:${env("VERSION")}`);
  });

  it("pushes the chart where docs/install.md installs it from", () => {
    expect(names).toContain("charts=oci://ghcr.io/$owner/charts");
    expect(read("docs/install.md")).toContain("oci://ghcr.io/sluice-dev/charts/sluice");
    expect(step("chart", (s) => s.run?.includes("helm push") ?? false).run).toContain(
      'helm push "dist/sluice-$VERSION.tgz" "$CHARTS"',
    );
  });

  it("packages with the helm the e2e suite tests the chart with", () => {
    const pinned = /SLUICE_HELM_VERSION:-(v[\d.]+)/.exec(read("e2e/helm/build.sh"))?.[1];
    expect(pinned).toBeDefined();
    expect(step("chart", (s) => s.uses?.startsWith("azure/setup-helm@") ?? false).with?.version).toBe(pinned);
  });
});

describe("image build", () => {
  const build = step("image", (s) => s.uses?.startsWith("docker/build-push-action@") ?? false);

  it("builds amd64 and arm64, with provenance and an SBOM", () => {
    expect(String(build.with?.platforms).split(",")).toEqual(
      expect.arrayContaining(["linux/amd64", "linux/arm64"]),
    );
    expect(build.with?.provenance).toBe("mode=max");
    expect(build.with?.sbom).toBe(true);
  });

  it("passes only build args the Dockerfile declares", () => {
    // docker build only warns about an undeclared --build-arg: the label would silently vanish.
    const declared = new Set([...read("Dockerfile").matchAll(/^ARG\s+(\w+)/gm)].map((m) => m[1]));
    const passed = String(build.with?.["build-args"] ?? "")
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => line.split("=")[0]?.trim());
    for (const arg of passed) expect(declared, `ARG ${arg} in the Dockerfile`).toContain(arg);
  });

  it("asks only for the permissions it uses", () => {
    expect(workflow.jobs.image?.permissions).toEqual({
      contents: "read",
      packages: "write",
      "id-token": "write",
    });
    expect(workflow.jobs.chart?.permissions).toEqual({ contents: "read", packages: "write" });
  });
});
