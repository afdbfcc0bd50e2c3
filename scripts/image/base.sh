#!/usr/bin/env bash
# Makes the local stand-in for the Dockerfile's default base, node:<NODE_VERSION>-bookworm-slim,
# because this machine has no Docker engine and reaches no registry but npm and Debian's:
#   - a Debian bookworm minbase root filesystem (mmdebstrap; the merged-usr hook, since the
#     usrmerge package would pull perl in), without docs, man pages and locales, as Debian's
#     slim images are;
#   - Node from the npm package node-linux-<arch>@<NODE_VERSION>, the binary that
#     `npm install node@<version>` (scripts/ensure-node.sh) installs, and the npm that this
#     Node release bundles (named in the Node changelog the package ships);
#   - laid out like the official image: /usr/local/bin/{node,npm,npx}, user node 1000:1000.
# NODE_VERSION is read from the Dockerfile's `ARG NODE_VERSION`, the one pin for both paths;
# scripts/image/base.test.ts fails when this base and the Dockerfile disagree.
#
# The root filesystem is cached outside git as .cache/image/base-<key>.tar, key = hash of this
# script, the Node version and the architecture, and imported into buildah's storage as
# localhost/sluice-node-base:<NODE_VERSION>-bookworm-<key>. Logs go to stderr; the last stdout
# line is that image name. `base.sh --print-inputs` prints the inputs and builds nothing.
# The Debian mirror is not pinned: delete .cache/image/base-*.tar to pick up package updates.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${SLUICE_CACHE:-$repo/.cache}/image"
log() { printf '[image/base] %s\n' "$*" >&2; }

node_version="$(sed -n 's/^ARG NODE_VERSION=\([0-9][0-9.]*\)$/\1/p' "$repo/Dockerfile")"
[[ -n "$node_version" ]] || { log "no 'ARG NODE_VERSION=x.y.z' line in $repo/Dockerfile"; exit 1; }
suite=bookworm
user=node uid=1000 gid=1000 home=/home/node
case "$(uname -m)" in
  x86_64) arch=amd64 npm_arch=x64 ;;
  aarch64 | arm64) arch=arm64 npm_arch=arm64 ;;
  *) log "unsupported architecture $(uname -m)"; exit 1 ;;
esac
key="$(cat "${BASH_SOURCE[0]}" <(echo "$node_version $arch") | sha256sum | cut -c1-12)"
image="localhost/sluice-node-base:$node_version-$suite-$key"
tarball="$cache/base-$key.tar"

if [[ "${1:-}" == --print-inputs ]]; then
  printf '%s\n' "node_version=$node_version" "suite=$suite" "user=$user" "uid=$uid" "gid=$gid" \
    "home=$home" "arch=$arch" "key=$key" "image=$image"
  exit 0
fi

if buildah inspect --type image "$image" >/dev/null 2>&1; then
  log "$image is in buildah's storage"
  echo "$image"
  exit 0
fi

mkdir -p "$cache"
if [[ ! -f "$tarball" ]]; then
  tmp="$(mktemp -d "$cache/.base.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
  log "Node $node_version from npm (node-linux-$npm_arch)"
  (cd "$tmp" && npm pack --silent "node-linux-$npm_arch@$node_version" >/dev/null)
  mkdir -p "$tmp/node" "$tmp/npm" "$tmp/local/bin" "$tmp/local/lib/node_modules"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp/node" --strip-components=1 --no-same-owner
  # The first "upgrade npm to X" at or below this release's heading is the npm it ships.
  npm_version="$(awk -v id="<a id=\"$node_version\"></a>" '
    $0 == id { found = 1 }
    found && match($0, /upgrade npm to [0-9]+\.[0-9]+\.[0-9]+/) { print substr($0, RSTART + 15, RLENGTH - 15); exit }
  ' "$tmp/node/CHANGELOG.md")"
  [[ -n "$npm_version" ]] || { log "no npm version for Node $node_version in its CHANGELOG.md"; exit 1; }
  log "npm $npm_version (bundled with Node $node_version)"
  (cd "$tmp" && npm pack --silent "npm@$npm_version" >/dev/null)
  tar -xzf "$tmp"/npm-*.tgz -C "$tmp/npm" --strip-components=1 --no-same-owner
  install -m 0755 "$tmp/node/bin/node" "$tmp/local/bin/node"
  mv "$tmp/npm" "$tmp/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/local/bin/npx"

  log "Debian $suite minbase root filesystem (mmdebstrap)"
  mirror=http://deb.debian.org
  run="env PATH=/usr/local/bin:/usr/bin HOME=/root"
  # Its output (chatty even with --quiet) is shown only when it fails.
  mmdebstrap --variant=minbase --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="sync-in $tmp/local /usr/local" \
    --customize-hook="chroot \"\$1\" groupadd --gid $gid $user" \
    --customize-hook="chroot \"\$1\" useradd --uid $uid --gid $gid --shell /bin/bash --create-home $user" \
    --customize-hook="test \"\$(chroot \"\$1\" $run node --version)\" = v$node_version" \
    --customize-hook="test \"\$(chroot \"\$1\" $run npm --version)\" = $npm_version" \
    "$suite" "$tmp/rootfs.tar" \
    "deb $mirror/debian $suite main" \
    "deb $mirror/debian $suite-updates main" \
    "deb $mirror/debian-security $suite-security main" \
    >"$tmp/mmdebstrap.log" 2>&1 || { cat "$tmp/mmdebstrap.log" >&2; exit 1; }
  mv "$tmp/rootfs.tar" "$tarball"
  # Bases made from older inputs are never used again.
  find "$cache" -maxdepth 1 -name 'base-*.tar' ! -name "base-$key.tar" -delete
  rm -rf "$tmp"
  trap - EXIT
  log "root filesystem in $((SECONDS - start)) s: $tarball"
fi

log "importing $tarball as $image"
ctr="$(buildah from --quiet scratch)"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tarball" / >/dev/null
# The official image's PATH, NODE_VERSION and CMD; no labels, since the Sluice image inherits them.
buildah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$node_version" \
  --cmd '["node"]' "$ctr"
buildah commit --quiet --rm --identity-label=false "$ctr" "$image" >/dev/null
trap - EXIT
echo "$image"
