#!/usr/bin/env bash
# actionlint (the GitHub Actions workflow checker), built from its Go module and cached by
# go-install-cached.sh; the last stdout line is the binary:
#   ACTIONLINT=$(scripts/tools/build-actionlint.sh | tail -n1)
# SLUICE_ACTIONLINT_VERSION overrides the pinned version; SLUICE_ACTIONLINT_REBUILD=1 forces
# a rebuild. `actionlint -version` reads the module version from the build info `go install
# module@version` records, so no -X flag is needed.
set -euo pipefail
REBUILD="${SLUICE_ACTIONLINT_REBUILD:-}" exec "$(dirname "${BASH_SOURCE[0]}")/go-install-cached.sh" \
  actionlint github.com/rhysd/actionlint/cmd/actionlint "${SLUICE_ACTIONLINT_VERSION:-v1.7.12}"
