# Shared by up.sh and down.sh: the one-node cluster's addresses and names, and what of the
# host it may change (recorded before it starts, restored and checked when it stops).
NODE_NAME=sluice-e2e-node
NODE_BRIDGE=sluice-node0        # holds the node IP, no ports
POD_BRIDGE=sluice-cni0          # the CNI bridge the pods attach to
NODE_IP=10.240.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
APISERVER_PORT=6443
KUBELET_PORT=10250
CNI_BIN=/usr/lib/cni
PAUSE_IMAGE=registry.k8s.io/pause:3.10
# Host paths the kubelet, containerd and CNI write to whatever their configuration says.
HOST_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /var/run/netns /etc/cni /opt/cni /opt/containerd /var/lib/containerd)
# The kubelet, kube-proxy and the CNI bridge plugin set these; down.sh puts them back.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)

free_port() { # a free 127.0.0.1 port below the ephemeral range
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    [[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]] && { echo "$p"; return 0; }
  done
  return 1
}

# One line per fact a cluster could leave behind; down.sh diffs before and after.
record_host_state() {
  local - s t fam
  set +e +o pipefail   # a probe that finds nothing is not an error
  for s in "${SYSCTLS[@]}"; do echo "sysctl $s=$(sysctl -n "$s" 2>/dev/null || echo absent)"; done
  for t in filter nat mangle; do
    for fam in iptables ip6tables; do
      "$fam" -t "$t" -S 2>/dev/null | awk -v p="$fam/$t" '$1 == "-N" { print "chain " p " " $2 }'
    done
  done
  ip -o link show type bridge | awk -F': ' '{ print "bridge " $2 }'
  ip -o link show type veth 2>/dev/null | awk -F'[:@]' '{ gsub(/ /, "", $2); print "veth " $2 }'
  ip netns list 2>/dev/null | awk '{ print "netns " $1 }'
  for s in "${HOST_PATHS[@]}"; do [[ -e "$s" ]] && echo "path $s"; done
  awk '$2 ~ /kubelet|containerd|sluice-cluster|netns|kubepods/ { print "mount " $2 }' /proc/mounts
  for s in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do [[ -d "$s" ]] && echo "cgroup $s"; done
  ps -eo stat=,comm= | awk '$1 !~ /^Z/ { print $2 }' | grep -E '^(etcd|kube-apiserver|kube-proxy|kube-scheduler|kube-controller|kubelet|containerd)' \
    | sort | uniq -c | awk '{ print "process " $2 " x" $1 }'
  true
}
