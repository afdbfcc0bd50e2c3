# Every target installs what it needs: Node 24 when the node on PATH is older than 22
# (scripts/ensure-node.sh), npm dependencies when package-lock.json changed.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
DEPS := node_modules/.package-lock.json

.PHONY: deps run compile test test-unit test-integration e2e manifests verify-generated lint format bench system-packages e2e-kind image e2e-cluster

# `npm ci`: exactly the locked versions, and package-lock.json is never rewritten (a lock
# that does not match package.json is refused: run `npm install` and commit the lock).
# The lock lists Biome's optional packages for every platform, as `npm install` writes it
# on any machine; when it lacked some, every `npm install` here added them back.
$(DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## deps: npm dependencies, installed when package-lock.json changed (scripts/sluice runs it)
deps: $(DEPS)
	@:

## e2e-kind: the e2e-cluster scenarios on a kind cluster instead of our own (needs Docker and
## kind, which our machines lack): docker build, kind load, then the same checks
e2e-kind: $(DEPS)
	scripts/e2e-kind.sh

## image: the container image ghcr.io/sluice-dev/sluice:<appVersion> from the Dockerfile, built with
## buildah on a local Node base (no Docker engine), as .cache/image/sluice-<appVersion>.tar for
## `ctr -n k8s.io images import` (scripts/image/verify.sh checks it in a private containerd)
image:
	scripts/image/build.sh

## system-packages: what tests run for real: redis-server, lua5.4, promtool, containerd, runc,
## the CNI plugins, conntrack, iptables, and mmdebstrap, umoci, buildah for the image (apt, as root)
system-packages:
	scripts/ensure-system-packages.sh

## run: the standalone gateway on config/samples/standalone with a demo upstream
run: $(DEPS)
	node scripts/run-demo.ts

## compile: compile config/samples as the operator does and print every object's conditions
compile: $(DEPS)
	node cli/sluice.ts compile config/samples

## test: the whole suite: generated files, typecheck and lint, unit + golden + property
## tests, the e2e suite on a real API server, then the chart on a real one-node cluster
test: verify-generated lint test-unit test-integration e2e e2e-cluster

## test-unit: unit, golden and property tests (no external processes)
test-unit: $(DEPS)
	vitest run --project unit

## test-integration: the gateway against real upstream servers on 127.0.0.1
test-integration: $(DEPS) system-packages
	vitest run --project integration

## e2e: CRDs and samples against a real etcd + kube-apiserver built from Go modules
e2e: $(DEPS) system-packages
	vitest run --project e2e

## e2e-cluster: a one-node Kubernetes started from nothing (kubelet, kube-proxy, containerd;
## e2e/cluster/up.sh), the image from `make image` in it, helm install, and the scenarios of
## docs/testing.md under load; torn down always, checked to leave the host as it was (root)
e2e-cluster: $(DEPS) system-packages
	vitest run --project e2e-cluster

## manifests: regenerate crds/ and docs/reference/api.md from the schemas, and the chart's
## copy of the Grafana dashboard from config/prometheus/dashboards
manifests: $(DEPS)
	node scripts/generate-manifests.ts
	node scripts/sync-dashboard.ts

## verify-generated: fail when a generated file differs from its source
verify-generated: $(DEPS)
	node scripts/generate-manifests.ts --check
	node scripts/sync-dashboard.ts --check

## lint: typecheck, Biome (lint + format check), the dependency rule (docs/adr/0004), and
## actionlint on the GitHub workflows (built from its Go module, cached in .cache/actionlint)
lint: $(DEPS)
	tsc --noEmit
	biome check .
	node scripts/check-dependencies.ts
	actionlint=$$(scripts/tools/build-actionlint.sh | tail -n1); "$$actionlint" .github/workflows/*.yaml

format: $(DEPS)
	biome check --write .

## bench: compile benchmark (10,000 routes, 2,000 pools, 10,000 API keys), ReDoS cost, the proxy
## benchmark against nginx, minimal-undici and @fastify/http-proxy, the paired cost of metrics,
## logs, limits, auth and 10k routes, open-loop latency (vegeta), the 10k gateway's memory, --workers,
## the operator's memory beside 10,000 unrelated Secrets and its compiles under unrelated churn,
## and apply → served through the API (installs nginx, wrk and vegeta; writes docs/benchmarks.md)
bench: $(DEPS)
	node bench/compile.bench.ts
	node bench/redos.bench.ts
	bash bench/proxy/install.sh
	node bench/proxy/run.ts
	node bench/proxy/paired.ts
	node bench/proxy/latency.ts
	node bench/proxy/scale.ts
	node bench/proxy/workers.ts
	node bench/operator-scale.ts
	node bench/apply-to-served.ts
