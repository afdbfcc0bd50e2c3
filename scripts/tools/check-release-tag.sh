#!/usr/bin/env bash
# Fails unless a release tag is `v` + the chart's version and appVersion, and prints the
# version (without the v). The release workflow runs it first, so a tag pushed before the
# chart was bumped stops in seconds: the image would be tagged one version and the chart
# would default to another (image.tag defaults to appVersion).
#
#   scripts/tools/check-release-tag.sh v0.1.0 [chart-dir]     # prints 0.1.0
set -euo pipefail

tag="${1:?usage: check-release-tag.sh <tag> [chart-dir]}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chart="$(cd "${2:-$here/../../charts/sluice}" && pwd)/Chart.yaml"

# A top-level key of Chart.yaml, unquoted. Chart.yaml is ours and flat at the top level,
# so sed is enough and the workflow needs no YAML tool before anything is installed.
field() {
  sed -nE "s/^$1:[[:space:]]*[\"']?([^\"'#[:space:]]+)[\"']?[[:space:]]*(#.*)?\$/\\1/p" "$chart" | head -n1
}
version="$(field version)"
app_version="$(field appVersion)"

fail=0
for pair in "version:$version" "appVersion:$app_version"; do
  name="${pair%%:*}" value="${pair#*:}"
  if [[ "$tag" != "v$value" ]]; then
    printf '%s: %s is %s, so the release tag must be v%s, not %s (tag again, or bump the chart)\n' \
      "$chart" "$name" "${value:-<missing>}" "$value" "$tag" >&2
    fail=1
  fi
done
((fail == 0)) || exit 1
echo "$version"
