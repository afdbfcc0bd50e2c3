#!/usr/bin/env bash
# Writes argocd-values.yaml (a values snippet for the argo-cd Helm chart) from health.lua:
# the same script for each kind. e2e/argocd-health.test.ts fails when the
# snippet and health.lua differ.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
{
  echo "# Argo CD health checks for Sluice's custom resources: add to the values of the argo-cd"
  echo "# Helm chart (https://argoproj.github.io/argo-helm). Generated from health.lua by"
  echo "# generate-values.sh; see docs/argocd.md."
  echo "configs:"
  echo "  cm:"
  for kind in GatewayRoute BackendPool RateLimitPolicy ApiKey AuthzPolicy HostnameOwnership; do
    echo "    resource.customizations.health.sluice.dev_${kind}: |"
    sed 's/^/      /; s/^ *$//' "$here/health.lua"
  done
} > "$here/argocd-values.yaml"
