#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need when it is missing (Debian's zookeeper,
# postgresql and redis-server packages, Node 22 from the npm registry, node_modules), then runs the whole suite: unit tests, contract tests on every adapter, and
# integration tests against a real ZooKeeper server and an SQS-protocol server (fauxqs) that mocha's global
# setup starts on free loopback ports and stops afterwards. The last line is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages of the real servers the tests start: zookeeper (coordination, and the ensemble of
# zookeeper:restart), postgresql (postgres:backup), redis-server (redis:backup) and chromium (the web view's
# browser test, driven by playwright-core pointed at /usr/bin/chromium; no browser is ever downloaded).
PACKAGES="zookeeper postgresql redis-server chromium"
if [ ! -f /usr/share/java/zookeeper.jar ] || ! command -v java >/dev/null 2>&1 || [ ! -x /usr/lib/postgresql/15/bin/postgres ] || ! command -v redis-server >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test/run.sh: installing $PACKAGES (Debian packages)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
  else
    echo "test/run.sh: missing Debian packages: apt-get install -y $PACKAGES (tests that need them will be skipped)" >&2
  fi
fi

# The oldest supported Node major (22), installed from the npm registry when the machine has another.
# shellcheck source=test/use-node.sh
. test/use-node.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npx tsc -p tsconfig.json --noEmit
npx eslint .
npx depcruise --config .dependency-cruiser.cjs core scheduler router runner ui actions cli
exec npx mocha 'test/**/*.test.ts'
