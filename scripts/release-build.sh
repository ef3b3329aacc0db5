# Sourced by scripts/package.sh and scripts/bench-load.sh (not run): the one release build of the
# handler that ships, so that the binary measured is the binary shipped.
#
#   release_build TARGET [CARGO_ARGS...]   # TARGET: a triple, or empty for the host; sets `binary`
#
# The host build is built with --target too: without it, RUSTFLAGS would instrument the build
# scripts and proc-macros as well, and their counts would join the profile.
#
# The build is profile-guided (PGO), in three steps:
#   1. an instrumented build (-Cprofile-generate), in its own target directory (target/pgo-generate),
#      so the flags never mix with the ordinary build's cache;
#   2. the training run, scripts/pgo-train.py: 50 starts as the Functions host starts the handler,
#      each with 200 invocations cycling through every fixture's event (both schemas, all five
#      types) and the webhook door, in a scratch directory with log-only hooks and none of the
#      caller's settings (so nothing is ever sent anywhere); llvm-profdata merges the counts;
#   3. the release build with -Cprofile-use, in the ordinary target directory.
# What it buys, measured on the shipped build (BENCHMARKS.md): LLVM lays out the code by what ran, so
# start-up and the invocation path share fewer 64 KiB windows of the executable (the cold start's page
# faults) and the request path is laid out for its branches (throughput). The price: one more fat-LTO
# build and a training run of about 7 s, and the final build starts from nothing each time (the
# profile is part of its flags).
#
# llvm-profdata must match rustc's LLVM: it comes from rustup's llvm-tools component, added when
# missing. PGO=0, or a toolchain without that component, builds without a profile (with a warning),
# as before.
release_build() {
  local target=${1:-$(rustc -vV | awk '/^host:/ {print $2}')}
  shift
  local target_args=(--target "$target")
  local profdata=""
  if [ "${PGO:-1}" != 0 ]; then
    local tool
    if tool=$(llvm_profdata); then
      # A failed instrumented build or training run stops the build: the training asserts the
      # handler's answers, so a failure there is a broken handler, not a missing tool.
      pgo_profile "$tool" "$target" "${target_args[@]}" "$@" || { echo "error: the profile-guided build failed" >&2; return 1; }
      # Named by its contents: cargo does not see inside the file that RUSTFLAGS names, so a new
      # profile must change the flags, or the build would keep code laid out by an old one.
      local sum
      sum=$(sha256sum target/pgo/handler.profdata | cut -c1-16)
      profdata=$PWD/target/pgo/handler-$sum.profdata
      cp target/pgo/handler.profdata "$profdata"
    else
      echo "warning: no llvm-profdata for rustc's LLVM (rustup's llvm-tools)" >&2
    fi
  fi
  if [ -n "$profdata" ]; then
    echo "building the release handler with the profile (PGO, step 3 of 3)" >&2
    RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$profdata" \
      cargo build --release --locked --bin handler "${target_args[@]}" "$@" >&2
  else
    echo "warning: building the release handler without a profile (PGO)" >&2
    cargo build --release --locked --bin handler "${target_args[@]}" "$@" >&2
  fi
  local target_dir
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  binary="$target_dir/$target/release/handler"
}

# llvm_profdata: the path of rustc's own llvm-profdata, adding rustup's llvm-tools when missing.
llvm_profdata() {
  local sysroot host tool
  sysroot=$(rustc --print sysroot)
  host=$(rustc -vV | awk '/^host:/ {print $2}')
  tool="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
  if [ ! -x "$tool" ] && command -v rustup >/dev/null 2>&1; then
    echo "adding rustup's llvm-tools (llvm-profdata, for the profile-guided build)" >&2
    rustup component add llvm-tools >/dev/null 2>&1 || true
  fi
  [ -x "$tool" ] && echo "$tool"
}


# pgo_profile LLVM_PROFDATA TARGET [CARGO_ARGS...]: builds the instrumented handler, trains it, and
# merges its counts into target/pgo/handler.profdata. CARGO_ARGS include --target TARGET.
pgo_profile() {
  local tool=$1 target=$2
  shift 2
  local root=$PWD/target/pgo
  rm -rf "$root"
  mkdir -p "$root/raw"
  echo "building the instrumented handler (PGO, step 1 of 3)" >&2
  RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$root/raw" CARGO_TARGET_DIR=target/pgo-generate \
    cargo build --release --locked --bin handler "$@" >&2 || return 1
  echo "training it (PGO, step 2 of 3)" >&2
  python3 scripts/pgo-train.py "target/pgo-generate/$target/release/handler" >&2 || return 1
  "$tool" merge -o "$root/handler.profdata" "$root"/raw/*.profraw >&2
}
