#!/usr/bin/env bash
# Dev helper: start a throwaway etcd + kube-apiserver (like controller-runtime's
# envtest does) on free 127.0.0.1 ports, with all state in a temp dir.
#
# Usage: e2e/testenv/start-dev.sh [KUBECONFIG_PATH]
#   KUBECONFIG_PATH defaults to <state dir>/kubeconfig.
#   SLUICE_APISERVER_EXTRA_ARGS  extra kube-apiserver flags (word-split)
#   SLUICE_READY_TIMEOUT         seconds to wait for /readyz (default 120)
#
# The processes keep running after this script exits. Stop them with the
# printed "<state dir>/stop.sh" (kills both PIDs and removes the state dir).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[testenv/start-dev] %s\n' "$*" >&2; }

bin_dir="$("$here/build.sh" | tail -n1)"
apiserver="$bin_dir/kube-apiserver"
etcd="$bin_dir/etcd"

state="$(mktemp -d "${TMPDIR:-/tmp}/sluice-testenv.XXXXXX")"
kubeconfig="${1:-$state/kubeconfig}"
mkdir -p "$state/etcd" "$state/certs" "$(dirname "$kubeconfig")"
chmod 700 "$state"

# --- free ports -------------------------------------------------------------
used_ports=" "
free_port() {
  local p
  for _ in $(seq 1 100); do
    # Below Linux's ephemeral range (32768+), which outgoing connections and every
    # port-0 listener of the tests draw from: a port picked there could be taken meanwhile.
    p=$((20000 + RANDOM % 12000))
    [[ "$used_ports" == *" $p "* ]] && continue
    if [[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]]; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  log "no free port found"; return 1
}
etcd_client_port="$(free_port)"
etcd_peer_port="$(free_port)"
apiserver_port="$(free_port)"

pids=()
cleanup_on_error() {
  local rc=$?
  if ((rc != 0)); then
    log "startup failed (rc=$rc); stopping started processes"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for f in etcd.log kube-apiserver.log; do
      [[ -f "$state/$f" ]] && { log "--- tail $f"; tail -n 20 "$state/$f" >&2; }
    done
    log "state kept for inspection: $state"
  fi
}
trap cleanup_on_error EXIT

# --- credentials ------------------------------------------------------------
certs="$state/certs"
openssl_q() { openssl "$@" >/dev/null 2>&1; }
# CA + serving cert for 127.0.0.1/localhost.
openssl_q req -x509 -newkey rsa:2048 -nodes -days 2 \
  -keyout "$certs/ca.key" -out "$certs/ca.crt" -subj "/CN=sluice-testenv-ca"
openssl_q req -newkey rsa:2048 -nodes \
  -keyout "$certs/apiserver.key" -out "$certs/apiserver.csr" -subj "/CN=kube-apiserver"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1\nextendedKeyUsage=serverAuth\n' \
  > "$certs/apiserver.ext"
openssl_q x509 -req -in "$certs/apiserver.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" \
  -CAcreateserial -days 2 -extfile "$certs/apiserver.ext" -out "$certs/apiserver.crt"
# Service-account token signing key pair.
openssl_q genrsa -out "$certs/sa.key" 2048
openssl_q rsa -in "$certs/sa.key" -pubout -out "$certs/sa.pub"
# Static bearer token for an admin in system:masters.
token="$(openssl rand -hex 24)"
printf '%s,admin,admin,"system:masters"\n' "$token" > "$certs/tokens.csv"
chmod 600 "$certs"/*

# --- etcd -------------------------------------------------------------------
etcd_url="http://127.0.0.1:$etcd_client_port"
peer_url="http://127.0.0.1:$etcd_peer_port"
setsid "$etcd" \
  --name=testenv \
  --data-dir="$state/etcd" \
  --listen-client-urls="$etcd_url" \
  --advertise-client-urls="$etcd_url" \
  --listen-peer-urls="$peer_url" \
  --initial-advertise-peer-urls="$peer_url" \
  --initial-cluster="testenv=$peer_url" \
  --unsafe-no-fsync \
  >"$state/etcd.log" 2>&1 </dev/null &
etcd_pid=$!
pids+=("$etcd_pid")
log "etcd pid $etcd_pid on $etcd_url"
# Wait for etcd before starting the apiserver (avoids a burst of gRPC dial
# warnings in the apiserver log).
deadline=$((SECONDS + 30))
until curl -sf "$etcd_url/health" >/dev/null 2>&1; do
  kill -0 "$etcd_pid" 2>/dev/null || { log "etcd exited early"; exit 1; }
  ((SECONDS < deadline)) || { log "timed out waiting for etcd"; exit 1; }
  sleep 0.2
done

# --- kube-apiserver ---------------------------------------------------------
server="https://127.0.0.1:$apiserver_port"
# The launcher stays in the state dir: tests use it to start a second API server on the
# same etcd, or to restart one, with exactly the flags (and credentials) of the first.
cat > "$state/apiserver.sh" <<EOF
#!/usr/bin/env bash
# Usage: apiserver.sh PORT LOGFILE — starts kube-apiserver on 127.0.0.1:PORT, prints its pid.
set -euo pipefail
setsid "$apiserver" \\
  --etcd-servers="$etcd_url" \\
  --bind-address=127.0.0.1 \\
  --secure-port="\$1" \\
  --advertise-address=127.0.0.1 \\
  --cert-dir="$certs" \\
  --tls-cert-file="$certs/apiserver.crt" \\
  --tls-private-key-file="$certs/apiserver.key" \\
  --service-cluster-ip-range=10.0.0.0/24 \\
  --endpoint-reconciler-type=none \\
  --allow-privileged=true \\
  --authorization-mode=RBAC \\
  --token-auth-file="$certs/tokens.csv" \\
  --service-account-issuer="$server" \\
  --service-account-key-file="$certs/sa.pub" \\
  --service-account-signing-key-file="$certs/sa.key" \\
  ${SLUICE_APISERVER_EXTRA_ARGS:-} \\
  >"\$2" 2>&1 </dev/null &
echo \$!
EOF
chmod +x "$state/apiserver.sh"
apiserver_pid="$("$state/apiserver.sh" "$apiserver_port" "$state/kube-apiserver.log")"
pids+=("$apiserver_pid")
log "kube-apiserver pid $apiserver_pid on $server"

printf '%s\n' "${pids[@]}" > "$state/pids"
cat > "$state/stop.sh" <<EOF
#!/usr/bin/env bash
# Stops the testenv started in $state and removes its state dir.
for pid in $apiserver_pid $etcd_pid; do
  kill "\$pid" 2>/dev/null || continue
  for _ in \$(seq 1 50); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "\$pid" 2>/dev/null || true
done
rm -rf "$state"
EOF
chmod +x "$state/stop.sh"

# --- wait for readiness -----------------------------------------------------
deadline=$((SECONDS + ${SLUICE_READY_TIMEOUT:-120}))
until [[ "$(curl -s --cacert "$certs/ca.crt" -H "Authorization: Bearer $token" \
             "$server/readyz" 2>/dev/null)" == ok ]]; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { log "process $pid exited early"; exit 1; }
  done
  ((SECONDS < deadline)) || { log "timed out waiting for $server/readyz"; exit 1; }
  sleep 0.5
done
log "ready: $server/readyz ok"

# --- kubeconfig -------------------------------------------------------------
ca_data="$(base64 -w0 <"$certs/ca.crt")"
cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: admin
  user:
    token: $token
contexts:
- name: testenv
  context:
    cluster: testenv
    user: admin
current-context: testenv
EOF
chmod 600 "$kubeconfig"

echo "KUBECONFIG=$kubeconfig"
echo "ETCD_PID=$etcd_pid"
echo "APISERVER_PID=$apiserver_pid"
echo "STATE_DIR=$state"
echo "APISERVER=$state/apiserver.sh"
echo "STOP=$state/stop.sh"
