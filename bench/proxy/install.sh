#!/usr/bin/env bash
# Installs what the proxy benchmark needs when it is missing: nginx (Debian's, one of
# nginx-light / nginx), wrk (load generator), taskset (util-linux, CPU pinning), vegeta
# (latency.ts's open-loop load generator, built from its Go module into .cache/) and the
# npm devDependencies (fastify, @fastify/http-proxy, autocannon as wrk's fallback).
# Idempotent and silent when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$(bash "$root/scripts/ensure-node.sh"):$root/node_modules/.bin:$PATH"

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)

if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/proxy/install.sh: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Without a policy-rc.d, installing nginx would try to start the system service on
  # port 80; the bench runs its own nginx processes, so refuse service starts (exit 101).
  policy=/usr/sbin/policy-rc.d; made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null; $sudo chmod +x "$policy"; made_policy=1
  fi
  trap 'if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi' EXIT
  $sudo apt-get update -qq >/dev/null
  pkgs=()
  for p in "${missing[@]}"; do
    # nginx-light is the smallest build with the proxy module; plain nginx where it is gone.
    if [ "$p" = nginx ]; then
      if apt-cache show nginx-light >/dev/null 2>&1; then pkgs+=(nginx-light); else pkgs+=(nginx); fi
    else pkgs+=("$p"); fi
  done
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# The npm side: fastify, @fastify/http-proxy and autocannon are in package.json.
if [ ! -d "$root/node_modules/@fastify/http-proxy" ] || [ ! -d "$root/node_modules/autocannon" ]; then
  echo "bench/proxy/install.sh: npm install" >&2
  (cd "$root" && npm install --no-audit --no-fund --silent)
fi

# Built, not installed (Debian has no vegeta); near-instant once cached. Its log is shown
# only when the build fails, so that this script stays silent when nothing was missing.
if ! log=$(bash "$root/scripts/tools/build-vegeta.sh" 2>&1); then
  echo "$log" >&2
  exit 1
fi
