#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing (redis-server for the dedupe store
# tests, openssl for the Entra ID test keys, Node.js and npm for the Adaptive Cards check; Debian
# packages, needs root; then Microsoft's `adaptivecards` library from npm, pinned by
# tests/cards/package-lock.json), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# tests/it/cards.rs validates every Teams card with it (about a second to install).
if [ ! -f tests/cards/node_modules/adaptivecards/dist/adaptivecards.js ]; then
  (cd tests/cards && npm ci --no-audit --no-fund --loglevel=error)
fi

exec cargo test --all-features --locked "$@"
