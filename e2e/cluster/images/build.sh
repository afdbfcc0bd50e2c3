#!/usr/bin/env bash
# Builds the two small images the one-node e2e cluster needs besides Sluice's own, without
# a registry or a Docker engine (our machines can pull neither), and caches them outside git:
#
#   ${SLUICE_CACHE:-$REPO/.cache}/cluster-images/<hash of inputs>/
#     pause.tar       registry.k8s.io/pause:3.10 — the pod sandbox image; containerd's
#                     sandbox_image must name it. Our own pause/main.go, user 65535.
#     echo-basic.tar  the Gateway API conformance suite's echo backend, tagged with every
#                     registry.k8s.io/gateway-api/echo-basic:<tag> the pinned suite's
#                     manifests use (so its manifests run unchanged) and sluice.dev/e2e/echo:v1
#                     for our own tests (a tag, not :latest, so kubelet does not force
#                     pullPolicy Always). Entrypoint /echo-basic, user 65532, as upstream.
#     images.tsv      one line per image name: <archive file> TAB <name>
#
# Each archive is an OCI image layout in a tar (one layer, a static Go binary) whose
# index.json lists the manifest once per name with the annotation io.containerd.image.name,
# which `ctr images import` takes as the full image name (the layout `docker save` writes
# since Docker 25). So one command imports an archive with all its names, no flags. umoci's
# own index carries only tags: ctr 1.6 names those import-<date>:<tag> unless given
# --base-name, and one --base-name cannot cover names in several repositories.
#
#   ctr -n k8s.io images import "$OUT/pause.tar"
#   ctr -n k8s.io images import "$OUT/echo-basic.tar"
#
# (add --address <socket> for a private containerd, and --snapshotter if it does not use
# overlayfs; import unpacks for that snapshotter so the CRI plugin can use the image.)
#
# Versions come from go.mod/go.sum next to this script (sigs.k8s.io/gateway-api/conformance).
# Outputs are keyed by a hash of every input, so a warm run is instant. Logs go to stderr;
# the last (only) line on stdout is the output directory, e.g.
#   IMAGES_DIR=$(e2e/cluster/images/build.sh | tail -n1)
# Set SLUICE_CLUSTER_IMAGES_REBUILD=1 to force a rebuild.
# Needs: go, umoci, jq, tar, sha256sum.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cache="${SLUICE_CACHE:-$repo/.cache}"

log() { printf '[cluster-images/build] %s\n' "$*" >&2; }

for tool in go umoci jq tar sha256sum; do
  command -v "$tool" >/dev/null || { log "$tool not found in PATH"; exit 1; }
done

pause_name="registry.k8s.io/pause:3.10"
echo_local_name="sluice.dev/e2e/echo:v1"
# Image timestamps and file mtimes are fixed so that the same inputs give the same image
# digests on every machine.
epoch=0
created="1970-01-01T00:00:00Z"
arch="$(go env GOARCH)"

# The key covers everything that shapes the output: our sources, the pinned module
# versions (go.sum holds their hashes), this script, the Go toolchain and umoci.
key="$(
  cd "$here"
  {
    sha256sum build.sh go.mod go.sum tools.go pause/main.go
    go version
    umoci --version
    echo "$arch"
  } | sha256sum | cut -c1-16
)"
out="$cache/cluster-images/$key"

if [[ "${SLUICE_CLUSTER_IMAGES_REBUILD:-}" != 1 && -f "$out/images.tsv" ]]; then
  log "cached: $out"
  echo "$out"
  exit 0
fi

mkdir -p "$cache/cluster-images"
# Build in a sibling directory and rename it into place at the end, so an interrupted
# build never leaves a half-written directory that a warm run would trust.
tmp="$(mktemp -d "$cache/cluster-images/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

log "building pause and echo-basic (GOARCH=$arch) -> $out"
(
  cd "$here"
  # -buildid= with -trimpath makes the binaries, and so the layers, reproducible.
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags "-s -w -buildid=" \
    -o "$tmp/bin/" ./pause sigs.k8s.io/gateway-api/conformance/echo-basic
) >&2

# Every echo-basic name the pinned suite's manifests use; read from the module itself so
# that bumping the suite in go.mod brings its new tags along.
conformance_dir="$(cd "$here" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api/conformance)"
mapfile -t echo_upstream_names < <(
  grep -rhoE --include='*.yaml' 'registry\.k8s\.io/gateway-api/echo-basic:[A-Za-z0-9._-]+' \
    "$conformance_dir" | sort -u
)
if ((${#echo_upstream_names[@]} == 0)); then
  log "no echo-basic image names found in $conformance_dir/**/*.yaml"
  exit 1
fi

# pack_image <archive> <binary> <user> <name>... packs one static binary as /<basename> in a
# one-layer OCI image named <name>... and writes it as an importable tar.
pack_image() {
  local archive="$1" binary="$2" user="$3"
  shift 3
  local file="${binary##*/}"
  local layout="$tmp/$file.oci" bundle="$tmp/$file.bundle"

  log "packing $archive: /$file, user $user, names: $*"
  umoci init --layout "$layout"
  umoci new --image "$layout:build"
  # unpack + repack rather than `umoci insert`: umoci 0.4.7's insert of a single file
  # writes a tar without padding or end-of-archive blocks, which tar readers reject.
  umoci unpack --image "$layout:build" "$bundle"
  install -m 0755 "$binary" "$bundle/rootfs/$file"
  touch -h -d "@$epoch" "$bundle/rootfs/$file" "$bundle/rootfs"
  umoci repack --image "$layout:build" --history.created "$created" \
    --history.created_by "e2e/cluster/images/build.sh: /$file" "$bundle"
  umoci config --image "$layout:build" --created "$created" --history.created "$created" \
    --os linux --architecture "$arch" \
    --config.entrypoint "/$file" --config.user "$user" --config.workingdir /
  umoci gc --layout "$layout"

  # One index entry per name, all pointing at the same manifest. io.containerd.image.name
  # is what containerd names the image by; the OCI ref.name keeps the layout valid for
  # other tools (tag only, as umoci and skopeo expect).
  local names_json
  names_json="$(printf '%s\n' "$@" | jq -R . | jq -s .)"
  jq --argjson names "$names_json" '
    .manifests[0] as $m
    | .manifests = [$names[] as $n | ($m | .annotations = {
        "io.containerd.image.name": $n,
        "org.opencontainers.image.ref.name": ($n | sub("^.*:"; ""))
      })]' "$layout/index.json" >"$tmp/index.json"
  mv "$tmp/index.json" "$layout/index.json"
  chmod -R a+rX "$layout"

  # Fixed order, owner and mtime: the archive's bytes depend only on the image.
  tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf "$tmp/out/$archive" oci-layout index.json blobs
  for name in "$@"; do
    printf '%s\t%s\n' "$archive" "$name" >>"$tmp/out/images.tsv"
  done
}

mkdir -p "$tmp/out"
# stdout carries only the output directory; umoci's chatter goes to the log.
# 65535 is the user Kubernetes' own pause image runs as.
pack_image pause.tar "$tmp/bin/pause" 65535:65535 "$pause_name" >&2
# 65532 is distroless's "nonroot", the user of upstream's echo-basic image.
pack_image echo-basic.tar "$tmp/bin/echo-basic" 65532:65532 \
  "${echo_upstream_names[@]}" "$echo_local_name" >&2

rm -rf "$out"
mv "$tmp/out" "$out"
log "built in $((SECONDS - start))s: $(cd "$out" && du -h pause.tar echo-basic.tar | tr '\t\n' ' ')"

echo "$out"
