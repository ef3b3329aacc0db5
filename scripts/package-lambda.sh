#!/usr/bin/env bash
# Builds the handler for AWS Lambda (runtime provided.al2023, x86_64) with the `lambda` feature and
# writes dist/bootstrap.zip: the binary as `bootstrap` plus hooks.toml, ready for
#   aws lambda create-function --runtime provided.al2023 --handler bootstrap --zip-file fileb://dist/bootstrap.zip ...
#
# FEATURES=redis scripts/package-lambda.sh   adds the Redis dedupe store.
set -euo pipefail
cd "$(dirname "$0")/.."

features="lambda${FEATURES:+,$FEATURES}"
source "$(dirname "$0")/musl-target.sh"
if [ -n "$target" ]; then
  echo "building for $target with features $features"
  cargo build --release --locked --bin handler --features "$features" --target "$target"
  binary="target/$target/release/handler"
else
  echo "warning: the $musl target is not available; building for the host target (glibc)." >&2
  echo "warning: provided.al2023 has glibc 2.34; a binary built on a newer distro may not start there." >&2
  cargo build --release --locked --bin handler --features "$features"
  binary="target/release/handler"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/bootstrap"
chmod 755 "$stage/bootstrap"
cp hooks.toml "$stage/hooks.toml"
mkdir -p dist
rm -f dist/bootstrap.zip
out="$PWD/dist/bootstrap.zip"
if command -v zip >/dev/null 2>&1; then
  (cd "$stage" && zip -q "$out" bootstrap hooks.toml)
else
  python3 - "$stage" "$out" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for name in ("bootstrap", "hooks.toml"):
        path = os.path.join(stage, name)
        info = zipfile.ZipInfo.from_file(path, arcname=name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as fh:
            z.writestr(info, fh.read())
PY
fi
echo "wrote dist/bootstrap.zip ($(stat -c %s "$binary") byte binary)"
