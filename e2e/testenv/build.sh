#!/usr/bin/env bash
# Builds real kube-apiserver and etcd binaries from the Go modules pinned in
# e2e/testenv/go.mod and caches them outside git:
#
#   ${SLUICE_CACHE:-$REPO/.cache}/k8s/<k8s version>/{kube-apiserver,etcd}
#
# `build.sh node` also builds what a one-node cluster adds (make e2e-cluster): kubelet,
# kube-proxy, kube-controller-manager and kube-scheduler, from the same k8s.io/kubernetes
# version (~150 s with the Go build cache `make e2e` leaves, ~7.5 min cold on 2 cores).
#
# Binaries are only built when missing, so a warm run is near-instant.
# Logs go to stderr; the last line on stdout is the binary directory, e.g.
#   BIN_DIR=$(e2e/testenv/build.sh | tail -n1)
# Set SLUICE_TESTENV_REBUILD=1 to force a rebuild.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${SLUICE_CACHE:-$repo/.cache}"

log() { printf '[testenv/build] %s\n' "$*" >&2; }

# Versions come from go.mod so there is a single source of truth.
k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  log "could not read k8s.io/kubernetes / etcd versions from $here/go.mod"
  exit 1
fi
major_minor="${k8s_version#v}"    # 1.34.4
major="${major_minor%%.*}"        # 1
minor="${major_minor#*.}"         # 34.4
minor="${minor%%.*}"              # 34

out="$cache/k8s/$k8s_version"

missing=()
bins=(kube-apiserver etcd)
[[ "${1:-}" == node ]] && bins+=(kubelet kube-proxy kube-controller-manager kube-scheduler)
for bin in "${bins[@]}"; do
  if [[ "${SLUICE_TESTENV_REBUILD:-}" == 1 || ! -x "$out/$bin" ]]; then
    missing+=("./cmd/$bin")
  fi
done

if ((${#missing[@]} > 0)); then
  command -v go >/dev/null || { log "go toolchain not found in PATH"; exit 1; }
  mkdir -p "$out"
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "building ${missing[*]} (kubernetes $k8s_version, etcd $etcd_version) -> $out"
  log "cold build: ~5-7 min on 2 cores (~1.8 GB RSS), plus ~10 s of module downloads"
  start=$SECONDS
  # The -X flags set the Kubernetes components' version (etcd does not link component-base).
  (
    cd "$here"
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X k8s.io/component-base/version.gitVersion=$k8s_version \
        -X k8s.io/component-base/version.gitMajor=$major \
        -X k8s.io/component-base/version.gitMinor=$minor \
        -X k8s.io/component-base/version.gitTreeState=clean" \
      -o "$tmp/" "${missing[@]}"
  ) >&2
  # Move into place only after a successful build, so an interrupted build
  # never leaves a half-written binary that a warm run would trust.
  for pkg in "${missing[@]}"; do
    mv -f "$tmp/${pkg##*/}" "$out/${pkg##*/}"
  done
  log "built in $((SECONDS - start))s"
else
  log "cached: $out"
fi

echo "$out"
