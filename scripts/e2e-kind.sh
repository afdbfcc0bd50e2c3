#!/usr/bin/env bash
# For machines with Docker and kind (a laptop, CI with a Docker engine); our own machines
# have neither and run the same scenarios on a cluster of their own (`make e2e-cluster`).
# One set of checks, two cluster providers: e2e/cluster/*.test.ts with
# SLUICE_CLUSTER_PROVIDER=kind (e2e/cluster/harness/providers.ts) creates or reuses the kind
# cluster, `docker build`s the image, `kind load`s it, and reaches the gateway Service
# through a NodePort on the kind node.
#
#   scripts/e2e-kind.sh                 # cluster "sluice-e2e", deleted afterwards
#   KEEP_CLUSTER=1 scripts/e2e-kind.sh  # kept for a look around
#   KIND_CLUSTER=name scripts/e2e-kind.sh
#
# Needs: docker, kind, kubectl, Go (helm is built like the e2e suite does) and Node 24.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in docker kind kubectl go; do
  command -v "$tool" >/dev/null || { echo "[e2e-kind] $tool not found" >&2; exit 1; }
done
cd "$repo"
export PATH="$(scripts/ensure-node.sh):$repo/node_modules/.bin:$PATH"
SLUICE_CLUSTER_PROVIDER=kind exec vitest run --project e2e-cluster
