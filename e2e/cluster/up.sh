#!/usr/bin/env bash
# Starts a complete one-node Kubernetes cluster on this machine, from nothing, for
# `make e2e-cluster`: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
# and kube-proxy (built from the k8s.io/kubernetes Go module by e2e/testenv/build.sh node),
# with Debian's containerd + runc + CNI plugins running the pods. Root only.
#
#   e2e/cluster/up.sh > cluster.env  # KUBECONFIG=, STATE_DIR=, DOWN=, CONTAINERD_ADDRESS=, NODE_IP=
#   "$DOWN" "$STATE_DIR"             # always: tears everything down and checks nothing is left
#
# Facts that shaped it (../shared/real-cluster-notes.md): the node IP cannot be loopback
# (EndpointSlices refuse it, pods cannot reach the host's 127.0.0.1), so it lives on a
# bridge with no ports; root here lacks CAP_SYS_RESOURCE, so containerd must not ask runc for
# a negative oom_score_adj; the kubelet and kube-proxy change host sysctls, which down.sh
# restores from what this script recorded first. Everything else lives in one state directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=e2e/cluster/host.sh
source "$here/host.sh"
log() { printf '[cluster/up] %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "needs root (network bridges, iptables, containerd)"; exit 1; }
for cmd in containerd containerd-shim-runc-v2 runc ctr conntrack iptables openssl curl kubectl; do
  command -v "$cmd" >/dev/null || { log "$cmd not found (scripts/ensure-system-packages.sh installs it)"; exit 1; }
done
[[ -x "$CNI_BIN/bridge" ]] || { log "CNI plugins not found in $CNI_BIN"; exit 1; }
if ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link show "$POD_BRIDGE" >/dev/null 2>&1; then
  log "a cluster seems to be running already (bridge $NODE_BRIDGE or $POD_BRIDGE exists); run its down.sh"
  exit 1
fi

bin="$("$repo/e2e/testenv/build.sh" node | tail -n1)"
images="$("$here/images/build.sh" | tail -n1)"

state="$(mktemp -d /tmp/sluice-cluster.XXXXXX)"
chmod 700 "$state"
mkdir -p "$state"/{certs,etcd,logs,pids,cni/net.d,cni/ipam,containerd,kubelet,pod-logs,flex}
# The modules the cluster loads anyway (bridged traffic through iptables, conntrack), loaded
# first so their sysctls are recorded as they were rather than as absent.
modprobe -q br_netfilter 2>/dev/null || true
modprobe -q nf_conntrack 2>/dev/null || true
# What the host looked like before, for down.sh to restore and to check against.
record_host_state > "$state/host-before"
printf '%s\n' "$bin" > "$state/bin-dir"

on_error() {
  local rc=$?
  ((rc == 0)) && return
  log "startup failed (rc=$rc); logs:"
  for f in "$state"/logs/*.log; do [[ -f "$f" ]] && { log "--- tail $f"; tail -n 15 "$f" >&2; }; done
  "$here/down.sh" "$state" >&2 || true
}
trap on_error EXIT

start() { # name, then the command: runs it in its own session, logs and pid in the state dir
  local name=$1; shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! > "$state/pids/$name"
  log "$name pid $!"
}
wait_for() { # description, seconds, then a command that succeeds when ready
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    for p in "$state"/pids/*; do
      kill -0 "$(cat "$p")" 2>/dev/null || { log "$(basename "$p") exited; waiting for $what"; return 1; }
    done
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.3
  done
}

# --- addresses ------------------------------------------------------------------------
# The node IP on a bridge with no ports (this kernel has no dummy module). Service traffic
# from the host (the tests' load) is routed there too, so kube-proxy's DNAT in OUTPUT picks
# the node IP as source and nothing is sent towards eth0.
ip link add "$NODE_BRIDGE" type bridge
ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
ip route add "$SERVICE_CIDR" dev "$NODE_BRIDGE" src "$NODE_IP"
# Pods on one bridge reach Services backed by pods on the same bridge only when bridged
# frames pass iptables (kube-proxy's DNAT and its reverse).
sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.ipv4.ip_forward=1

# --- credentials ----------------------------------------------------------------------
certs="$state/certs"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$certs/ca.key" -out "$certs/ca.crt" -subj "/CN=sluice-e2e-cluster-ca"
issue() { # name, subject, extensions: a key and a certificate signed by the cluster CA
  ossl req -newkey rsa:2048 -nodes -keyout "$certs/$1.key" -out "$certs/$1.csr" -subj "$2"
  printf '%s\n' "$3" > "$certs/$1.ext"
  ossl x509 -req -in "$certs/$1.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" -CAcreateserial \
    -days 2 -extfile "$certs/$1.ext" -out "$certs/$1.crt"
}
issue apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth"
# One administrator identity for the components and the tests: this cluster lives for one
# test run and its only tenants are our pods.
issue admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
ossl genrsa -out "$certs/sa.key" 2048
ossl rsa -in "$certs/sa.key" -pubout -out "$certs/sa.pub"
chmod 600 "$certs"/*

server="https://$NODE_IP:$APISERVER_PORT"
kubeconfig="$state/kubeconfig"
cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e-cluster
  cluster: {server: "$server", certificate-authority: "$certs/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$certs/admin.crt", client-key: "$certs/admin.key"}
contexts:
- name: e2e-cluster
  context: {cluster: e2e-cluster, user: admin}
current-context: e2e-cluster
EOF
chmod 600 "$kubeconfig"

# --- etcd + kube-apiserver --------------------------------------------------------------
etcd_port="$(free_port)"; etcd_peer="$(free_port)"
start etcd "$bin/etcd" --name=node --data-dir="$state/etcd" \
  --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
  --initial-cluster="node=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync
wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$APISERVER_PORT" \
  --cert-dir="$certs" --tls-cert-file="$certs/apiserver.crt" --tls-private-key-file="$certs/apiserver.key" \
  --client-ca-file="$certs/ca.crt" \
  --kubelet-client-certificate="$certs/admin.crt" --kubelet-client-key="$certs/admin.key" \
  --kubelet-preferred-address-types=InternalIP \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=Node,RBAC --allow-privileged=true \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$certs/sa.pub" --service-account-signing-key-file="$certs/sa.key"
wait_for "the API server" 120 kubectl --kubeconfig "$kubeconfig" get --raw /readyz

# --- controllers and scheduler ---------------------------------------------------------
start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig="$kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 \
  --service-account-private-key-file="$certs/sa.key" --root-ca-file="$certs/ca.crt" \
  --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" \
  --flex-volume-plugin-dir="$state/flex" \
  --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller'
start kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig="$kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --secure-port=0

# --- containerd ------------------------------------------------------------------------
ctrd="$state/containerd"
cat > "$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$ctrd/containerd.sock"
[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$state/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
EOF
cat > "$state/cni/net.d/10-sluice.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sluice-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$state/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
EOF
start containerd containerd --config "$ctrd/config.toml"
ctr=(ctr --address "$ctrd/containerd.sock" -n k8s.io)
wait_for containerd 30 "${ctr[@]}" version
for archive in "$images"/*.tar; do
  "${ctr[@]}" images import "$archive" >/dev/null
done
if [[ -n "${SLUICE_CLUSTER_IMPORT:-}" ]]; then
  for archive in $SLUICE_CLUSTER_IMPORT; do "${ctr[@]}" images import "$archive" >/dev/null; done
fi

# --- kubelet ---------------------------------------------------------------------------
cat > "$state/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
containerRuntimeEndpoint: unix://$ctrd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podLogsDir: $state/pod-logs
volumePluginDir: $state/flex
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $certs/ca.crt}
authorization: {mode: Webhook}
# Images are imported, never pulled: keep them (pullPolicy Never would fail after a GC).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
EOF
start kubelet "$bin/kubelet" --config="$state/kubelet/config.yaml" --kubeconfig="$kubeconfig" \
  --root-dir="$state/kubelet" --cert-dir="$state/kubelet/pki" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"

# --- kube-proxy ------------------------------------------------------------------------
cat > "$state/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $kubeconfig}
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$(free_port)
metricsBindAddress: 127.0.0.1:$(free_port)
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
iptables: {localhostNodePorts: false}
# 0: leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$bin/kube-proxy" --config="$state/kube-proxy.yaml"

k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
wait_for "node $NODE_NAME Ready" 120 k wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
wait_for "the default service account" 60 k -n default get serviceaccount default
trap - EXIT
log "ready in ${SECONDS}s: $server"

echo "KUBECONFIG=$kubeconfig"
echo "STATE_DIR=$state"
echo "DOWN=$here/down.sh"
echo "CONTAINERD_ADDRESS=$ctrd/containerd.sock"
echo "NODE_IP=$NODE_IP"
