#!/usr/bin/env bash
# Builds a Go command from its module with `go install` and caches it outside git:
#
#   ${SLUICE_CACHE:-$REPO/.cache}/<name>/<version>/<name>
#
#   scripts/tools/go-install-cached.sh NAME PACKAGE VERSION [LDFLAGS]
#
# Built only when missing (or with REBUILD=1), so a warm run is near-instant; moved into
# place only after a successful build, so a half-written binary is never trusted. Logs go to
# stderr; the last line on stdout is the binary. Built rather than downloaded: our machines
# reach the Go module proxy, not release assets. Used for helm and actionlint.
set -euo pipefail
name="$1" package="$2" version="$3" ldflags="${4:-}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${SLUICE_CACHE:-$repo/.cache}/$name/$version"
log() { printf '[%s/build] %s\n' "$name" "$*" >&2; }

if [[ "${REBUILD:-}" == 1 || ! -x "$out/$name" ]]; then
  command -v go >/dev/null || { log "go toolchain not found in PATH"; exit 1; }
  mkdir -p "$out"
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "building $name $version -> $out"
  start=$SECONDS
  CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$package@$version" >&2
  mv -f "$tmp/$name" "$out/$name"
  log "built in $((SECONDS - start))s"
else
  log "cached: $out/$name"
fi
echo "$out/$name"
