// The e2e-cluster scenarios run in the order of their file names (01-install … 08-kustomize):
// each builds on the cluster the previous one left (the release installed, backends running),
// and the kustomize install comes last because it replaces the helm release. Other projects
// keep vitest's own order (failed and slow files first). Vitest takes one sequencer for the
// whole run, so this is set at the root of vitest.config.ts.
import { BaseSequencer, type TestSpecification } from "vitest/node";

export class ClusterScenariosInOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const scenarios = sorted
      .filter((f) => f.project.name === "e2e-cluster")
      .sort((a, b) => a.moduleId.localeCompare(b.moduleId));
    return [...sorted.filter((f) => f.project.name !== "e2e-cluster"), ...scenarios];
  }
}
