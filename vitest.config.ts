import { defineConfig } from "vitest/config";
import { ClusterScenariosInOrder } from "./e2e/cluster/harness/sequencer.ts";

export default defineConfig({
  test: {
    sequence: { sequencer: ClusterScenariosInOrder },
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "cli/**/*.test.ts",
            "core/**/*.test.ts",
            "operator/**/*.test.ts",
            "gateway/src/**/*.test.ts",
            "scripts/**/*.test.ts",
            "bench/**/*.test.ts",
          ],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["gateway/test/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["e2e/**/*.test.ts"],
          exclude: ["e2e/cluster/**"],
          globalSetup: ["e2e/harness/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e-cluster",
          include: ["e2e/cluster/**/*.test.ts"],
          globalSetup: ["e2e/cluster/harness/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
