#!/usr/bin/env bash
# Installs what Omoi needs on a Debian machine with Node 20, skipping what is already there:
# apt packages (nats-server, libkrb5-dev for nodegit's build, git, bubblewrap for task sandboxes,
# chromium for the dashboard browser test) and the npm dependencies (npm ci; nodegit compiles for ~7 minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
command -v git >/dev/null 2>&1 || need+=(git)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v g++ >/dev/null 2>&1 || need+=(g++ make python3)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "omoi setup: missing packages: ${need[*]}" >&2
    echo "omoi setup: install them as root:  apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "omoi setup: installing ${need[*]} (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "omoi setup: Node.js 20 or newer is required (found $(node -v 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.omoi-lock-hash
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ] || [ ! -f node_modules/nodegit/build/Release/nodegit.node ]; then
  echo "omoi setup: npm ci (the first install compiles nodegit: about 7 minutes)"
  npm ci --no-audit --no-fund
  echo "$hash" > "$stamp"
fi
