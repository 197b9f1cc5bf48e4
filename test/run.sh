#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need when it is missing (Debian's zookeeper
# package, Node 22 from the npm registry, node_modules), then runs the whole suite: unit tests, contract tests on every adapter, and
# integration tests against a real ZooKeeper server and an SQS-protocol server (fauxqs) that mocha's global
# setup starts on free loopback ports and stops afterwards. The last line is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/java/zookeeper.jar ] || ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test/run.sh: installing zookeeper (Debian package)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
  else
    echo "test/run.sh: ZooKeeper is missing: apt-get install -y zookeeper (integration tests will be skipped)" >&2
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
npx depcruise --config .dependency-cruiser.cjs core scheduler router runner actions cli
exec npx mocha 'test/**/*.test.ts'
