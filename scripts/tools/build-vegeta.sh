#!/usr/bin/env bash
# vegeta (the constant-rate HTTP load generator of bench/proxy/latency.ts), built from its Go
# module and cached by go-install-cached.sh; the last stdout line is the binary:
#   VEGETA=$(scripts/tools/build-vegeta.sh | tail -n1)
# SLUICE_VEGETA_VERSION overrides the pinned version; SLUICE_VEGETA_REBUILD=1 forces a
# rebuild. Not from Debian, which has no vegeta package. `vegeta -version` prints a variable
# its release builds set at link time, so the -X flag sets it here too.
set -euo pipefail
version="${SLUICE_VEGETA_VERSION:-v12.13.0}"
REBUILD="${SLUICE_VEGETA_REBUILD:-}" exec "$(dirname "${BASH_SOURCE[0]}")/go-install-cached.sh" \
  vegeta github.com/tsenart/vegeta/v12 "$version" "-X main.Version=$version"
