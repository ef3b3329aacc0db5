#!/usr/bin/env bash
# Builds the release handler for Azure Functions (Linux x64), places it at ./handler where host.json
# expects it, and writes dist/aml-events.zip with the executable bit kept.
#
# Prefers the static x86_64-unknown-linux-musl target, which runs on every Functions Linux image
# whatever its glibc; falls back to the host target (with a warning) when musl cannot be installed.
# The build is profile-guided (scripts/release-build.sh): about 8 minutes on 2 cores from nothing.
#
# FEATURES=redis scripts/package.sh   builds with the Redis dedupe store.
set -euo pipefail
cd "$(dirname "$0")/.."

features=()
if [ -n "${FEATURES:-}" ]; then
  features=(--features "$FEATURES")
fi

source "$(dirname "$0")/musl-target.sh"
# shellcheck source=scripts/release-build.sh
source "$(dirname "$0")/release-build.sh"
if [ -n "$target" ]; then
  echo "building for $target"
else
  echo "warning: the $musl target is not available; building for the host target." >&2
  echo "warning: the binary links the host's glibc and may not start on older Functions images." >&2
fi
# Profile-guided (release-build.sh says how and why; PGO=0 builds without a profile).
release_build "$target" "${features[@]}"

# The musl build's allocator reserves its first arena in 64 MiB, not 1 GiB, and starts its pages'
# blocks at offset 0 (.cargo/config.toml: fewer page faults at start). mimalloc says what it reserved
# when asked, which shows that the flags were applied (they come in one variable); a build without
# them (a CFLAGS of the caller's own, a renamed define in a new mimalloc) starts slower, so say so.
if [ -n "$target" ]; then
  # Read whole before grep: a grep that stops early would break the handler's pipe under pipefail.
  allocator=$(MIMALLOC_VERBOSE=1 "$binary" --help 2>&1 >/dev/null || true)
  if ! grep -q "reserved 65536 KiB" <<<"$allocator"; then
    echo "warning: mimalloc did not reserve a 64 MiB first arena: the CFLAGS of .cargo/config.toml were not applied" >&2
  fi
fi

cp "$binary" ./handler
chmod 755 ./handler

mkdir -p dist
rm -f dist/aml-events.zip
files=(handler host.json hooks.toml MlWorkspaceEvents)
# zip stores Unix permissions (the exec bit) by default; Python's zipfile is the fallback.
if command -v zip >/dev/null 2>&1; then
  zip -q -r dist/aml-events.zip "${files[@]}"
else
  python3 - "${files[@]}" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile("dist/aml-events.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for root in sys.argv[1:]:
        paths = [root] if os.path.isfile(root) else [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
        for p in paths:
            info = zipfile.ZipInfo.from_file(p)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(p, "rb") as fh:
                z.writestr(info, fh.read())
PY
fi
size=$(stat -c %s ./handler)
echo "wrote ./handler ($size bytes) and dist/aml-events.zip"
