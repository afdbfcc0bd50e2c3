#!/usr/bin/env bash
# For machines with Docker and kind (a laptop, CI with a Docker engine); our own CI has
# neither, so this script is not run there. It proves the packaging end to end on a real
# cluster with a kubelet: build the image, load it into a kind cluster, helm install, apply
# a pool and a route, and curl through the gateway Service.
#
#   scripts/e2e-kind.sh            # cluster "sluice-e2e", kept afterwards for a look around
#   KEEP_CLUSTER=0 scripts/e2e-kind.sh   # delete it at the end
#
# Needs: docker, kind, kubectl, curl, and Go (helm is built like the e2e suite does).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cluster="${KIND_CLUSTER:-sluice-e2e}"
image="sluice:e2e-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo dev)"
ns=sluice-system
log() { printf '[e2e-kind] %s\n' "$*" >&2; }

for tool in docker kind kubectl curl; do
  command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done
helm="$("$repo/e2e/helm/build.sh" | tail -n1)"

if ! kind get clusters | grep -qx "$cluster"; then
  log "creating kind cluster $cluster"
  kind create cluster --name "$cluster" --wait 120s
fi
ctx="kind-$cluster"
k() { kubectl --context "$ctx" "$@"; }
if [[ "${KEEP_CLUSTER:-1}" == 0 ]]; then trap 'kind delete cluster --name "$cluster"' EXIT; fi

log "building $image"
docker build -t "$image" "$repo"
kind load docker-image "$image" --name "$cluster"

log "helm install"
"$helm" upgrade --install sluice "$repo/charts/sluice" --kube-context "$ctx" \
  --namespace "$ns" --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never \
  --wait --timeout 5m

log "a demo upstream, a pool and a route"
k create namespace demo --dry-run=client -o yaml | k apply -f -
k -n demo create deployment echo --image=registry.k8s.io/e2e-test-images/agnhost:2.53 \
  --dry-run=client -o yaml -- /agnhost netexec --http-port=8080 | k apply -f -
k -n demo expose deployment echo --port 8080 --dry-run=client -o yaml | k apply -f -
k -n demo rollout status deploy/echo --timeout=120s
k apply -f - <<'YAML'
apiVersion: sluice.dev/v1alpha1
kind: BackendPool
metadata: {name: echo, namespace: demo}
spec:
  service: {name: echo, port: 8080}
---
apiVersion: sluice.dev/v1alpha1
kind: GatewayRoute
metadata: {name: echo, namespace: demo}
spec:
  hostnames: [echo.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{name: echo}]
YAML
k -n demo wait --for=condition=Programmed gatewayroute/echo --timeout=120s

log "curl through the gateway Service"
k -n "$ns" port-forward svc/sluice-gateway 18080:80 >/dev/null 2>&1 &
pf=$!
trap 'kill $pf 2>/dev/null || true; [[ "${KEEP_CLUSTER:-1}" == 0 ]] && kind delete cluster --name "$cluster"' EXIT
for _ in $(seq 1 50); do
  if body="$(curl -sf -H 'Host: echo.example.com' http://127.0.0.1:18080/hostname)"; then
    log "served by pod $body"
    k get sluice -A
    log "ok"
    exit 0
  fi
  sleep 0.2
done
log "the gateway did not serve the route"; k -n "$ns" logs deploy/sluice-gateway --tail=50 >&2; exit 1
