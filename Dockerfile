# syntax=docker/dockerfile:1
# One image for both processes: `sluice operator` and `sluice gateway` (the chart passes the
# subcommand as args). Stage one installs production dependencies; stage two turns the
# TypeScript sources into JavaScript (scripts/build-dist.sh: emit only, the types are checked
# by `make lint`), so that no process pays ~29 MB for Node's type stripping at run time;
# the last stage copies both.
# Two builders read this one file. Docker / buildx on the official node image: the release
# workflow (.github/workflows/release.yaml, amd64 + arm64) and scripts/e2e-kind.sh. And
# `make image` (scripts/image/build.sh) on our machines, which have no Docker engine: buildah,
# on a local base made from Debian and npm packages that it passes as NODE_IMAGE.
# NODE_VERSION is the one Node pin for both; scripts/image/base.test.ts fails when the local
# base drifts from this file.
ARG NODE_VERSION=24.21.0
ARG NODE_IMAGE=node:${NODE_VERSION}-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci`: exactly the locked versions (the lock lists every platform's optional packages).
# --ignore-scripts: no production dependency needs an install script to run.
# The optional `ca` secret is the build machine's CA bundle, for a TLS-intercepting proxy in
# front of the registry (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`): mounted
# for this step only, so it is in no layer. Without it npm trusts Node's own CAs.
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Every dependency, for the TypeScript compiler (a native binary picked per platform).
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-dist.sh ./scripts/
COPY cli ./cli
COPY core ./core
COPY gateway/src ./gateway/src
COPY operator/src ./operator/src
RUN PATH="/app/node_modules/.bin:$PATH" scripts/build-dist.sh /app/dist

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# glibc gives each thread that allocates its own arena (Node runs ~10: V8's platform workers,
# libuv's pool); what they free stays resident. Two arenas: ~15 MB less per process.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package.json, cli/, core/, gateway/src/, operator/src/ as JavaScript.
COPY --from=build /app/dist/ ./
# The image's `node` user, by number so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 9901 9902
# Node is PID 1 without an init: both commands handle SIGTERM themselves (drain, then exit)
# and start no child processes, so there are no zombies to reap.
# --max-semi-space-size: V8 sizes the young generation from the machine's memory (64 MB
# semi-spaces on a large node), and a proxy's garbage fills it. 4 MB: against 16 MB the
# 10k-route gateway keeps ~40 MB less resident, and the plain proxy is ~6 % faster (a young
# generation that fits the core's caches), the 10k-route key check within a few percent;
# 2 MB promotes in-flight requests and is slower (docs/benchmarks.md). The benches read
# these flags here.
# --v8-pool-size=1: one V8 background thread instead of four. With a core to itself (the
# gateway's --workers gives each process one), four GC helpers preempting the event loop
# made the latency tail: open loop at half of saturation, p99 median 12.9 ms with four,
# 3.9 ms with one, at the same throughput (×0.995) and memory (docs/benchmarks.md).
# --no-maglev: no mid-tier JIT (functions go from the baseline compiler straight to
# TurboFan). It only shortens warm-up, and its code and compile memory cost the gateway
# ~7 MB at its peak (10k routes: 159 -> 152 MB); throughput with and without it is within
# the A/A spread (×0.986 and ×1.026 in two swapped A/B runs, docs/benchmarks.md).
ENTRYPOINT ["node", "--max-semi-space-size=4", "--v8-pool-size=1", "--no-maglev", "cli/sluice.js"]
CMD ["--help"]
# Last, so that a new commit changes only this metadata step and no cached layer.
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/sluice-dev/sluice" \
      org.opencontainers.image.licenses="Apache-2.0"
