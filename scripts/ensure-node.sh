#!/usr/bin/env bash
# Prints a directory whose `node` is Node >= 22, installing Node 24 from the npm
# registry (the `node` package ships the real binary) when the one on PATH is older.
# Used by the Makefile and .ci/run so a fresh clone needs nothing by hand.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLUICE_CACHE:-$root/.cache}
want=24
if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -ge 22 ]; then dirname "$(command -v node)"; exit 0; fi
fi
dir=$cache/node$want
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  echo "installing Node $want into $dir (the node on PATH is older than 22)" >&2
  mkdir -p "$dir"
  npm install --silent --no-save --no-package-lock --prefix "$dir" "node@$want" >&2
fi
echo "$dir/node_modules/.bin"
