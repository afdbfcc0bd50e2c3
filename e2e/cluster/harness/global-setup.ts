// Starts the one-node cluster for the e2e-cluster project (provider: SLUICE_CLUSTER_PROVIDER,
// default local) and tears it down after the last scenario. For the local cluster the
// teardown also checks the host is as it was; anything left over fails the run.
import type { TestProject } from "vitest/node";
import { type ClusterInfo, startCluster } from "./providers.ts";

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export default function setup(project: TestProject) {
  const started = performance.now();
  const cluster = startCluster();
  console.error(
    `[e2e-cluster] ${cluster.info.provider} cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  project.provide("cluster", cluster.info);
  return () => cluster.down();
}
