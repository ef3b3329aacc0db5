#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing (redis-server for the dedupe store
# tests, openssl for the Entra ID test keys; Debian packages, needs root), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

exec cargo test --all-features --locked "$@"
