#!/usr/bin/env bash
# Builds helm from its Go module (helm.sh/helm/v3/cmd/helm) and caches it outside git:
#
#   ${SLUICE_CACHE:-$REPO/.cache}/helm/<version>/helm
#
# Built only when missing, so a warm run is near-instant. Logs go to stderr; the last
# line on stdout is the binary, e.g.  HELM=$(e2e/helm/build.sh | tail -n1)
# SLUICE_HELM_VERSION overrides the pinned version; SLUICE_HELM_REBUILD=1 forces a rebuild.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${SLUICE_CACHE:-$repo/.cache}"
version="${SLUICE_HELM_VERSION:-v3.21.4}"   # the latest v3.21 patch on the Go module proxy
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`): helm's
# own Makefile sets it from its k8s.io/client-go; `go install` alone leaves v1.20.
# helm v3.21.4 is built against client-go v0.36.
k8s_minor="${SLUICE_HELM_K8S_MINOR:-36}"

log() { printf '[helm/build] %s\n' "$*" >&2; }

out="$cache/helm/$version"
if [[ "${SLUICE_HELM_REBUILD:-}" == 1 || ! -x "$out/helm" ]]; then
  command -v go >/dev/null || { log "go toolchain not found in PATH"; exit 1; }
  mkdir -p "$out"
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "building helm $version -> $out (cold: about 2-4 min on 2 cores)"
  start=$SECONDS
  # `helm version` reads internal/version.version; go install does not set it by itself.
  CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor" \
    "helm.sh/helm/v3/cmd/helm@$version" >&2
  # Moved into place only after a successful build: a half-written binary is never trusted.
  mv -f "$tmp/helm" "$out/helm"
  log "built in $((SECONDS - start))s"
else
  log "cached: $out/helm"
fi

echo "$out/helm"
