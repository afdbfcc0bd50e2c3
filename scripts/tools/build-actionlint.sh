#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow checker) from its Go module and caches it
# outside git, as e2e/helm/build.sh does for helm:
#
#   ${SLUICE_CACHE:-$REPO/.cache}/actionlint/<version>/actionlint
#
# Built only when missing, so a warm run is near-instant. Logs go to stderr; the last line
# on stdout is the binary, e.g.  ACTIONLINT=$(scripts/tools/build-actionlint.sh | tail -n1)
# SLUICE_ACTIONLINT_VERSION overrides the pinned version; SLUICE_ACTIONLINT_REBUILD=1 forces
# a rebuild. Built rather than downloaded: our machines reach the Go module proxy, not GitHub
# release assets.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${SLUICE_CACHE:-$repo/.cache}"
version="${SLUICE_ACTIONLINT_VERSION:-v1.7.12}"

log() { printf '[actionlint/build] %s\n' "$*" >&2; }

out="$cache/actionlint/$version"
if [[ "${SLUICE_ACTIONLINT_REBUILD:-}" == 1 || ! -x "$out/actionlint" ]]; then
  command -v go >/dev/null || { log "go toolchain not found in PATH"; exit 1; }
  mkdir -p "$out"
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "building actionlint $version -> $out (cold: under a minute on 2 cores)"
  start=$SECONDS
  # `actionlint -version` reads the module version from the build info that `go install
  # module@version` records, so no -X flag is needed for it.
  CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
  # Moved into place only after a successful build: a half-written binary is never trusted.
  mv -f "$tmp/actionlint" "$out/actionlint"
  log "built in $((SECONDS - start))s"
else
  log "cached: $out/actionlint"
fi

echo "$out/actionlint"
