#!/usr/bin/env bash
# System packages the test suite runs for real: redis-server (rate limiting, standalone and
# cluster), lua5.4 (Argo CD health checks) and promtool (alert rules); for the one-node
# cluster of `make e2e-cluster`, containerd, runc, the CNI plugins, conntrack and iptables;
# for `make image`, mmdebstrap, umoci and buildah. Installs the missing ones with apt when
# running as root (CI, our machines); otherwise names them and fails.
set -euo pipefail
declare -A package=([redis-server]=redis-server [redis-cli]=redis-tools [lua5.4]=lua5.4 [promtool]=prometheus
  [containerd]=containerd [runc]=runc [conntrack]=conntrack [iptables]=iptables
  [mmdebstrap]=mmdebstrap [umoci]=umoci [buildah]=buildah)
missing=()
for cmd in "${!package[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${package[$cmd]}")
done
[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "missing system packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[ensure-system-packages] installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
