#!/usr/bin/env bash
# The sources as JavaScript in dist/ (or $1): what the image runs and what the benches
# measure. TypeScript only emits here (tsconfig.build.json: --noCheck; `make lint` checks the
# types); files other than TypeScript that the sources read at run time are copied beside.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/dist}"
cd "$repo"
rm -rf "$out"
tsc -p tsconfig.build.json --outDir "$out"
# Run-time assets: the rate limiter's Lua script(s).
find cli core gateway/src operator/src -type f -name '*.lua' -print0 |
  while IFS= read -r -d '' f; do
    mkdir -p "$out/$(dirname "$f")"
    cp "$f" "$out/$f"
  done
cp package.json "$out/package.json"
echo "$out"
