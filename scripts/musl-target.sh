# Sourced by package.sh and package-lambda.sh: chooses the build target.
#
# Sets `target` to x86_64-unknown-linux-musl when a static build is possible: the Rust target is
# installed (or installable with rustup) and a musl C compiler exists for the C parts of ring (TLS and
# token signatures). Debian's musl-tools provides one and is installed when apt-get is available.
# Otherwise `target` stays empty and the caller builds for the host with a warning.
musl=x86_64-unknown-linux-musl
target=""
if command -v rustup >/dev/null 2>&1; then
  if rustup target list --installed 2>/dev/null | grep -qx "$musl" || rustup target add "$musl" >/dev/null 2>&1; then
    if ! command -v x86_64-linux-musl-gcc >/dev/null 2>&1 && ! command -v musl-gcc >/dev/null 2>&1; then
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing musl-tools (a C compiler for the musl target)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null 2>&1 ||
          { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null 2>&1; } || true
      fi
    fi
    if command -v x86_64-linux-musl-gcc >/dev/null 2>&1; then
      target=$musl
    elif command -v musl-gcc >/dev/null 2>&1; then
      export CC_x86_64_unknown_linux_musl=musl-gcc
      target=$musl
    else
      echo "warning: no musl C compiler (install musl-tools)." >&2
    fi
  fi
fi
