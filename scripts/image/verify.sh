#!/usr/bin/env bash
# Checks the archive `make image` writes the way a node's containerd will use it, without
# touching the machine's own containerd: a private containerd (its own root, state and socket
# under a temporary directory, and its own /run in a private mount namespace, because
# containerd 1.6 puts shim sockets under /run/containerd) imports the archive with
# `ctr -n k8s.io images import` and runs it read-only, as the chart does:
#   - the import yields exactly ghcr.io/sluice-dev/sluice:<appVersion>;
#   - the OCI labels name the chart's appVersion and a commit of this repository;
#   - no layer holds the CA bundle the build's `npm ci` was given;
#   - the process runs as 1000:1000, the root filesystem is read-only, `sleep` (the chart's
#     preStop), `--help` and `compile` work, and `sluice gateway` as PID 1 becomes ready and
#     exits 0 on SIGTERM.
# Prints the layers' gzip size (what a registry stores). Needs root, containerd and runc.
#
#   scripts/image/verify.sh [ARCHIVE]     # default: .cache/image/sluice-<appVersion>.tar
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
log() { printf '[image/verify] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
# node reads the archive's JSON.
PATH="$("$repo/scripts/ensure-node.sh"):$PATH"

version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$repo/charts/sluice/Chart.yaml")"
image="ghcr.io/sluice-dev/sluice:$version"
archive="${1:-${SLUICE_CACHE:-$repo/.cache}/image/sluice-$version.tar}"
ca="${SLUICE_IMAGE_CA:-/etc/ssl/certs/ca-certificates.crt}"
[[ -f "$archive" ]] || fail "no archive $archive (make image)"

dir="$(mktemp -d /tmp/sluice-image-verify.XXXXXX)"
containerd_pid=""
k() { ctr --address "$dir/containerd.sock" --namespace k8s.io "$@"; }
cleanup() {
  if [[ -n "$containerd_pid" ]]; then
    for c in $(k containers ls -q 2>/dev/null); do
      k task kill --signal SIGKILL "$c" >/dev/null 2>&1 || true
      k task rm --force "$c" >/dev/null 2>&1 || true
      k containers rm "$c" >/dev/null 2>&1 || true
    done
    kill "$containerd_pid" 2>/dev/null || true
    wait "$containerd_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

log "layers of $archive"
mkdir "$dir/archive"
tar -xf "$archive" -C "$dir/archive"
config="$(node -p 'require(process.argv[1])[0].Config' "$dir/archive/manifest.json")"
mapfile -t layers < <(node -p 'require(process.argv[1])[0].Layers.join("\n")' "$dir/archive/manifest.json")
raw=0 gz=0
for layer in "${layers[@]}"; do
  raw=$((raw + $(stat -c %s "$dir/archive/$layer")))
  gz=$((gz + $(gzip -nc <"$dir/archive/$layer" | wc -c)))
  if tar -tf "$dir/archive/$layer" | grep -q 'run/secrets/'; then fail "$layer holds run/secrets/"; fi
  if [[ -f "$ca" ]]; then
    # Only the files as large as the bundle can be it.
    for name in $(tar -tvf "$dir/archive/$layer" | awk -v size="$(stat -c %s "$ca")" '$3 == size { print $6 }'); do
      if tar -xOf "$dir/archive/$layer" "$name" | cmp -s - "$ca"; then fail "$layer holds the CA bundle as $name"; fi
    done
  fi
done
log "size: $((raw / 1048576)) MiB uncompressed, $((gz / 1048576)) MiB gzip ($gz bytes) in ${#layers[@]} layers"

labels="$(node -p 'JSON.stringify(require(process.argv[1]).config.Labels)' "$dir/archive/$config")"
label() { node -p 'JSON.parse(process.argv[1])[process.argv[2]] ?? ""' "$labels" "org.opencontainers.image.$1"; }
[[ "$(label version)" == "$version" ]] || fail "label version is '$(label version)', not $version"
git -C "$repo" cat-file -e "$(label revision | sed 's/-dirty$//')^{commit}" 2>/dev/null ||
  fail "label revision '$(label revision)' is no commit of this repository"
for name in title source licenses; do [[ -n "$(label "$name")" ]] || fail "no $name label"; done
log "labels: $labels"

log "private containerd in $dir"
cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
unshare --mount --propagation private -- \
  sh -c 'mount -t tmpfs tmpfs /run && exec containerd --config "$1"' sh "$dir/config.toml" \
  >"$dir/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 1 100); do k version >/dev/null 2>&1 && break; sleep 0.1; done
k version >/dev/null || { cat "$dir/containerd.log" >&2; fail "containerd did not start"; }

k images import "$archive" >&2
names="$(k images ls -q)"
[[ "$names" == "$image" ]] || fail "the import named '$names', not $image"
log "imported as $image"

# The client makes its IO FIFOs under /run/containerd unless told otherwise.
run() { k run --rm --read-only --fifo-dir "$dir/fifo" "$@"; }
exec_in() { k task exec --fifo-dir "$dir/fifo" "$@"; }
[[ "$(run "$image" sluice-verify-id id -u):$(run "$image" sluice-verify-gid id -g)" == 1000:1000 ]] ||
  fail "the process does not run as 1000:1000"
if run "$image" sluice-verify-ro touch /app/probe 2>/dev/null; then fail "the root filesystem is writable"; fi
run "$image" sluice-verify-sleep sleep 0 || fail "no sleep, which the chart's preStop hook runs"
# The default command is `--help`, which prints the usage and exits 2.
[[ "$(run "$image" sluice-verify-help 2>&1 || true)" == usage:* ]] || fail "no usage from the default command"
config_dir="type=bind,src=$repo/config/samples/standalone,dst=/config,options=rbind:ro"
run --mount "$config_dir" "$image" sluice-verify-compile node cli/sluice.js compile /config >/dev/null ||
  fail "sluice compile failed"
log "runs as 1000:1000 on a read-only root; --help and compile work"

# Attached in the background: this `ctr run` exits with the gateway's exit status.
run --mount "$config_dir" "$image" sluice-verify-gateway \
  node cli/sluice.js gateway --config-dir /config --drain-ms 500 >"$dir/gateway.log" 2>&1 &
gateway=$!
probe='fetch("http://127.0.0.1:9901/readyz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))'
ready=""
for i in $(seq 1 60); do
  if exec_in --exec-id "probe$i" sluice-verify-gateway node -e "$probe" 2>/dev/null; then ready=1; break; fi
  sleep 0.5
done
[[ -n "$ready" ]] || { cat "$dir/gateway.log" >&2; fail "the gateway did not become ready"; }
pid1="$(exec_in --exec-id pid1 sluice-verify-gateway cat /proc/1/cmdline | tr '\0' ' ')"
[[ "$pid1" == "node cli/sluice.js gateway "* ]] || fail "PID 1 is '$pid1', not the gateway"
k task kill --signal SIGTERM sluice-verify-gateway
start=$SECONDS
status=0
wait "$gateway" || status=$?
[[ "$status" == 0 ]] || { cat "$dir/gateway.log" >&2; fail "the gateway exited $status after SIGTERM"; }
grep -q '"msg":"stopped"' "$dir/gateway.log" || fail "no 'stopped' log line after SIGTERM"
log "gateway as PID 1 ($pid1) was ready and exited 0 within $((SECONDS - start)) s of SIGTERM"
log "ok"
