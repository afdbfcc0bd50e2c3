#!/usr/bin/env bash
# Tears down the one-node cluster up.sh started in STATE_DIR, whatever state it is in, and
# checks that the host is as up.sh found it: no processes, mounts, network namespaces,
# iptables chains, bridges or cgroups of ours left, sysctls restored. Exits 1 naming what
# is left over.
#
#   e2e/cluster/down.sh /tmp/sluice-cluster.XXXXXX
#
# Order matters: pods are deleted while the kubelet still runs, so that it stops their
# sandboxes and CNI releases addresses, veths and chains the normal way; what is left after
# that is removed by force.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=e2e/cluster/host.sh
source "$here/host.sh"
state="${1:?usage: down.sh STATE_DIR}"
[[ -f "$state/host-before" ]] || { echo "[cluster/down] $state is not a cluster state dir" >&2; exit 1; }
log() { printf '[cluster/down] %s\n' "$*" >&2; }
bin="$(cat "$state/bin-dir")"
ctrd="$state/containerd"
k() { kubectl --kubeconfig "$state/kubeconfig" --request-timeout=5s "$@"; }

stop() { # name [signal]: SIGTERM (or the signal given), up to 10 s, then SIGKILL
  local f="$state/pids/$1" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -s "${2:-TERM}" "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
# Exited counts as gone even before it is reaped: our processes' parent is PID 1, which
# may reap late, and a zombie still answers kill -0.
alive() { [[ -e /proc/$1 ]] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
running() { [[ -f "$state/pids/$1" ]] && alive "$(cat "$state/pids/$1")"; }

# 1. Nothing recreates pods any more; the kubelet stops the ones there are.
stop kube-controller-manager KILL
stop kube-scheduler KILL
if running kube-apiserver && running kubelet; then
  k delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1
  for _ in $(seq 1 120); do
    [[ -z "$(k get pods -A -o name 2>/dev/null)" ]] && break
    sleep 0.5
  done
  left="$(k get pods -A -o name 2>/dev/null)"
  [[ -n "$left" ]] && log "pods still there after 60 s: $left"
  log "pods deleted (${SECONDS}s)"
fi
stop kube-proxy KILL   # its rules are removed below (kube-proxy --cleanup)
stop kubelet KILL      # the pods are gone; nothing of its own to finish

# 2. Containers the kubelet did not stop, then containerd and its shims.
if running containerd; then
  ctr=(ctr --address "$ctrd/containerd.sock" -n k8s.io)
  for c in $("${ctr[@]}" containers list -q 2>/dev/null); do
    "${ctr[@]}" tasks kill -s SIGKILL "$c" >/dev/null 2>&1
    "${ctr[@]}" tasks delete -f "$c" >/dev/null 2>&1
    "${ctr[@]}" containers delete "$c" >/dev/null 2>&1
  done
fi
stop containerd
log "node stopped (${SECONDS}s)"
pkill -9 -f "containerd-shim.*-address $ctrd/containerd.sock" 2>/dev/null
for _ in $(seq 1 50); do pgrep -f "containerd-shim.*-address $ctrd/containerd.sock" >/dev/null || break; sleep 0.1; done
# Container processes whose shim died before them (only in a kubepods cgroup that is ours:
# one that was there before belongs to another kubelet).
for cg in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d "$cg" ]] && ! grep -qxF "cgroup $cg" "$state/host-before" &&
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
done

# 3. iptables: kube-proxy's own cleanup, then every KUBE-*/CNI-* chain that was not there before.
log "shims gone (${SECONDS}s)"
# kube-proxy --cleanup removes every kube-proxy rule on the host: only when there were none before.
grep -q '^chain .* KUBE-' "$state/host-before" || "$bin/kube-proxy" --cleanup >/dev/null 2>&1
log "kube-proxy cleanup done (${SECONDS}s)"
for fam in iptables ip6tables; do
  for t in filter nat mangle; do
    rules="$("$fam" -t "$t" -S 2>/dev/null)"
    ours=()
    for ch in $(awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ { print $2 }' <<<"$rules"); do
      grep -qxF "chain $fam/$t $ch" "$state/host-before" || ours+=("$ch")
    done
    ((${#ours[@]} == 0)) && continue
    # Rules that jump to one of them go first (read once: each iptables call costs ~50 ms),
    # then the chains are flushed, then deleted.
    pattern="-j ($(IFS='|'; echo "${ours[*]}"))( |\$)"
    grep -E -- "^-A .* $pattern" <<<"$rules" | sed 's/^-A /-D /' |
      while read -r rule; do eval "\"$fam\" -t \"$t\" $rule" 2>/dev/null; done
    for ch in "${ours[@]}"; do "$fam" -t "$t" -F "$ch" 2>/dev/null; done
    for ch in "${ours[@]}"; do "$fam" -t "$t" -X "$ch" 2>/dev/null; done
  done
done
log "iptables clean (${SECONDS}s)"

# 4. Mounts (deepest first), network namespaces and bridges made during the run: ours are
# under the state directory (the kubelet's and containerd's roots), and the pods' network
# namespaces containerd's CRI names cni-*.
awk -v s="$state" 'index($2, s) == 1 || $2 ~ "^(/var)?/run/netns/cni-" { print $2 }' /proc/mounts |
  sort -r | while read -r m; do
    grep -qxF "mount $m" "$state/host-before" || umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do
  grep -qxF "netns $ns" "$state/host-before" || ip netns delete "$ns" 2>/dev/null
done
ip link delete "$POD_BRIDGE" 2>/dev/null
ip link delete "$NODE_BRIDGE" 2>/dev/null

# 5. Sysctls as they were; the control plane; cgroups and host paths the kubelet made.
while read -r kind rest; do
  [[ "$kind" == sysctl && "${rest#*=}" != absent ]] && sysctl -qw "$rest" 2>/dev/null
done < "$state/host-before"
# Nothing of theirs outlives the state directory, so no graceful shutdown (the API server's
# takes ~10 s).
stop kube-apiserver KILL
stop etcd KILL
log "control plane stopped (${SECONDS}s)"
for cg in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d "$cg" ]] && ! grep -qxF "cgroup $cg" "$state/host-before" &&
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
done
for p in "${HOST_PATHS[@]}"; do
  [[ -e "$p" ]] && ! grep -qxF "path $p" "$state/host-before" && rm -rf "$p"
done

# 6. The check.
after="$(record_host_state)"
left="$(diff <(sort "$state/host-before") <(sort <<<"$after") | grep '^[<>]')"
rm -rf --one-file-system "$state"
if [[ -n "$left" ]]; then
  log "the host differs from before the cluster (< before, > after):"
  printf '%s\n' "$left" >&2
  exit 1
fi
log "torn down; the host is as it was"
