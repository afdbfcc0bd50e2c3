#!/usr/bin/env bash
# helm, built from its Go module (helm.sh/helm/v3/cmd/helm) and cached in
# ${SLUICE_CACHE:-$REPO/.cache}/helm/<version>/helm by scripts/tools/go-install-cached.sh.
# The last line on stdout is the binary, e.g.  HELM=$(e2e/helm/build.sh | tail -n1)
# SLUICE_HELM_VERSION overrides the pinned version; SLUICE_HELM_REBUILD=1 forces a rebuild.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="${SLUICE_HELM_VERSION:-v3.21.4}"   # the latest v3.21 patch on the Go module proxy
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`): helm's
# own Makefile sets it from its k8s.io/client-go; `go install` alone leaves v1.20.
# helm v3.21.4 is built against client-go v0.36.
k8s_minor="${SLUICE_HELM_K8S_MINOR:-36}"

# `helm version` reads internal/version.version; go install does not set it by itself.
REBUILD="${SLUICE_HELM_REBUILD:-}" exec "$repo/scripts/tools/go-install-cached.sh" helm helm.sh/helm/v3/cmd/helm "$version" \
  "-X helm.sh/helm/v3/internal/version.version=$version \
   -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor \
   -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
