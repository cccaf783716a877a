#!/usr/bin/env bash
# tally's one test command: installs what it needs on a fresh machine of this project's
# kind (Debian, rustup with stable and nightly), then runs every check CI runs.
#
#   bash ci/test.sh
#
# Steps can be skipped for local iteration (CI runs them all):
#   TALLY_SKIP_LOOM=1 TALLY_SKIP_MIRI=1 TALLY_SKIP_TSAN=1 TALLY_SKIP_EXTERNAL=1 bash ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUSTFLAGS="${RUSTFLAGS:-} -Dwarnings"
export RUSTDOCFLAGS="-Dwarnings"
ROOT=$(pwd)
TIMES=()
START_ALL=$(date +%s)

step() {
  local name=$1
  shift
  echo
  echo "==== $name"
  local t0
  t0=$(date +%s)
  "$@"
  local t1
  t1=$(date +%s)
  TIMES+=("$(printf '%5ds  %s' $((t1 - t0)) "$name")")
}

skip() { echo; echo "==== $1: skipped ($2)"; TIMES+=("$(printf '%5s  %s (skipped)' - "$1")"); }

install() {
  rustup component add clippy rustfmt
  if [ -z "${TALLY_SKIP_MIRI:-}${TALLY_SKIP_TSAN:-}" ]; then
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    rustup component add miri rust-src --toolchain nightly
  fi
  rustup target add powerpc-unknown-linux-gnu
  if [ -z "${TALLY_SKIP_EXTERNAL:-}" ]; then
    # Real parsers of the exposition formats: promtool (Debian's prometheus package) and
    # Python's prometheus_client.
    if ! command -v promtool >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
    fi
    python3 -c 'import prometheus_client' 2>/dev/null ||
      python3 -m pip install --quiet --disable-pip-version-check prometheus_client
    export TALLY_REQUIRE_EXTERNAL=1
  fi
}

fmt() { cargo fmt --all -- --check; }
clippy() { cargo clippy --workspace --all-targets --all-features -- -D warnings; }
docs() { cargo doc --workspace --no-deps --all-features; }
tests() { cargo test --workspace --all-features; }
# The coherence suite with 10^6 histogram snapshots (debug builds take fewer).
coherence_release() { cargo test --release -p tally --test coherence; }
benches_test_mode() {
  cargo bench -p tally-benches --bench throughput -- --test
  cargo bench -p tally-benches --bench epochs -- --test
  cargo bench -p tally-sync --all-features --bench lock_overhead -- --test
  cargo bench -p tally-prometheus --bench encode -- --test
}
loom() {
  RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
    CARGO_TARGET_DIR="$ROOT/target/loom" \
    cargo test -p tally-core --lib --release loom
}
miri() {
  CARGO_TARGET_DIR="$ROOT/target/miri" \
    cargo +nightly miri test -p tally-core --lib tests::
}
tsan() {
  RUSTFLAGS="-Zsanitizer=thread --cfg tally_tsan" RUSTDOCFLAGS="" \
    CARGO_TARGET_DIR="$ROOT/target/tsan" TSAN_OPTIONS="halt_on_error=1" \
    cargo +nightly test -Zbuild-std --target x86_64-unknown-linux-gnu \
    -p tally-core --lib tests::
}
check_32bit() {
  # powerpc-unknown-linux-gnu has std but no native 64-bit atomics: portable-atomic's path.
  CARGO_TARGET_DIR="$ROOT/target/ppc" cargo check -p tally-core -p tally-snapshot --target powerpc-unknown-linux-gnu
}

step "install rustup components, targets and external parsers" install
step "cargo fmt --check" fmt
step "clippy -D warnings (all targets, all features)" clippy
step "rustdoc -D warnings" docs
step "tests (debug, all features)" tests
step "coherence under concurrency (release, 10^6 snapshots per test)" coherence_release
step "benchmarks in test mode (each contender once, counts checked)" benches_test_mode
if [ -z "${TALLY_SKIP_LOOM:-}" ]; then step "loom models (preemption bound ${LOOM_MAX_PREEMPTIONS:-2})" loom; else skip loom TALLY_SKIP_LOOM; fi
if [ -z "${TALLY_SKIP_MIRI:-}" ]; then step "Miri on the core's threaded unit tests" miri; else skip miri TALLY_SKIP_MIRI; fi
if [ -z "${TALLY_SKIP_TSAN:-}" ]; then step "ThreadSanitizer (tally_tsan variant)" tsan; else skip tsan TALLY_SKIP_TSAN; fi
step "cargo check for a 32-bit target without 64-bit atomics" check_32bit

echo
echo "==== time per step"
printf '%s\n' "${TIMES[@]}"
echo "total: $(( $(date +%s) - START_ALL ))s"
echo "ci/test.sh: all steps passed"
