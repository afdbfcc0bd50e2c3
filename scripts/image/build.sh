#!/usr/bin/env bash
# `make image`: builds the Sluice image from the repository's Dockerfile with buildah (this
# machine has no Docker engine) on the local base from scripts/image/base.sh, and writes it as
# a docker-archive that `ctr -n k8s.io images import` loads as ghcr.io/sluice-dev/sluice:<appVersion>,
# the chart's default image (appVersion from charts/sluice/Chart.yaml):
#
#   ARCHIVE=$(scripts/image/build.sh | tail -n1)   # .cache/image/sluice-<appVersion>.tar
#
# Logs go to stderr; the last stdout line is the archive path. Warm runs reuse buildah's layer
# cache: the base and the `npm ci` layer are rebuilt only when their inputs change. What a run
# replaces (the previous image, its `npm ci` stage, older bases) is removed from buildah's
# storage, so repeated builds do not fill the disk.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${SLUICE_CACHE:-$repo/.cache}/image"
log() { printf '[image] %s\n' "$*" >&2; }

version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$repo/charts/sluice/Chart.yaml")"
[[ -n "$version" ]] || { log "no appVersion in charts/sluice/Chart.yaml"; exit 1; }
image="ghcr.io/sluice-dev/sluice:$version"
# The `npm ci` and build stages by name: unnamed ones could not be told from garbage when
# cleaning up, and their cached layers (every dependency, for the compiler) would go with it.
deps="localhost/sluice-deps:$version"
build="localhost/sluice-build:$version"
archive="$cache/sluice-$version.tar"
# The files that reach the image (.dockerignore); "-dirty" when they differ from the commit.
inputs=(Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json scripts/build-dist.sh cli core gateway/src operator/src)
revision="$(git -C "$repo" rev-parse HEAD)"
if [[ -n "$(git -C "$repo" status --porcelain -- "${inputs[@]}")" ]]; then revision+="-dirty"; fi

start=$SECONDS
base="$("$here/base.sh" | tail -n1)"

args=(--pull=never --network host --layers --force-rm --identity-label=false --build-arg "NODE_IMAGE=$base")
# A TLS-intercepting proxy re-signs the registry's certificate: npm ci trusts the host's bundle.
ca="${SLUICE_IMAGE_CA:-/etc/ssl/certs/ca-certificates.crt}"
[[ -f "$ca" ]] && args+=(--secret "id=ca,src=$ca")
log "building $image (revision $revision) on $base"
buildah bud "${args[@]}" --target deps --tag "$deps" "$repo" >&2
buildah bud "${args[@]}" --target build --tag "$build" "$repo" >&2
# buildah 1.28 keys only RUN steps on build args, so a cached LABEL step would keep the
# previous build's revision: the same values go in as --label too, which it does key on.
buildah bud "${args[@]}" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --tag "$image" "$repo" >&2

# What this build replaced (the previous image, a previous `npm ci` stage, their layer cache)
# is dangling now: no name and no image built on it. Ours are the ones on one of our bases;
# removing one can leave its parent dangling, hence the loop. Then the older bases go.
mapfile -t base_layers < <(buildah images --noheading --format '{{.ID}}' \
  --filter reference=localhost/sluice-node-base |
  xargs -r -n1 buildah inspect --type image --format '{{index .OCIv1.RootFS.DiffIDs 0}}')
while :; do
  removed=0
  for id in $(buildah images --noheading --no-trunc --filter dangling=true --format '{{.ID}}'); do
    first="$(buildah inspect --type image --format '{{index .OCIv1.RootFS.DiffIDs 0}}' "$id" 2>/dev/null || true)"
    if [[ " ${base_layers[*]} " == *" $first "* ]] && buildah rmi "$id" >/dev/null; then removed=1; fi
  done
  ((removed)) || break
done
for old in $(buildah images --noheading --format '{{.Name}}:{{.Tag}}' --filter reference=localhost/sluice-node-base); do
  [[ "$old" == "$base" ]] || buildah rmi "$old" >/dev/null || log "could not remove $old"
done

# Written beside the archive and renamed, so that no run sees a half-written one; not written
# again when it already holds this image (its manifest names the config by image ID).
id="$(buildah inspect --type image --format '{{.FromImageID}}' "$image")"
if [[ "$(tar -xOf "$archive" --occurrence=1 manifest.json 2>/dev/null)" != *"\"$id.json\""* ]]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.push.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  buildah push --quiet "$image" "docker-archive:$tmp/image.tar:$image" >&2
  mv "$tmp/image.tar" "$archive"
fi
log "$image -> $archive ($(du -m "$archive" | cut -f1) MiB) in $((SECONDS - start)) s"
echo "$archive"
