#!/usr/bin/env bash
# tally's one test command: installs what it needs on a fresh machine of this project's
# kind (Debian, rustup with stable and nightly), then runs every check CI runs.
#
#   bash ci/test.sh
#
# Heavy steps can be skipped for local iteration (CI runs them all):
#   TALLY_SKIP_LOOM=1 TALLY_SKIP_MIRI=1 TALLY_SKIP_TSAN=1 TALLY_SKIP_EXTERNAL=1 \
#   TALLY_SKIP_COHERENCE=1 TALLY_SKIP_BENCHES=1 TALLY_SKIP_32BIT=1 TALLY_SKIP_DEMO=1 \
#   TALLY_SKIP_FUZZ=1 TALLY_SKIP_INSNS=1 bash ci/test.sh
# TALLY_SKIP_TSAN_STRESS=1 keeps TSan to the core's small tests (drops tally's stress tests).
# TALLY_FUZZ_SECONDS sets how long each fuzz target runs (default 15).
# The long versions of the loom, Miri and fuzz runs are in docs/TESTING.md.
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
  if [ -z "${TALLY_SKIP_INSNS:-}" ] && ! command -v valgrind >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  fi
  if [ -z "${TALLY_SKIP_MIRI:-}${TALLY_SKIP_TSAN:-}" ]; then
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    rustup component add miri rust-src --toolchain nightly
  fi
  rustup target add powerpc-unknown-linux-gnu
  # util-linux `script` gives tally-demo's view tests a real pseudo-terminal.
  if ! command -v script >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bsdutils >/dev/null
  fi
  if [ -z "${TALLY_SKIP_EXTERNAL:-}" ]; then
    # Real parsers of the exposition formats: promtool (Debian's prometheus package) and
    # Python's prometheus_client; the same package's Prometheus server scrapes tally-http
    # in its tests.
    if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
    fi
    # A real Pushgateway for tally-push's tests.
    if ! command -v prometheus-pushgateway >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-pushgateway >/dev/null
    fi
    python3 -c 'import prometheus_client' 2>/dev/null ||
      python3 -m pip install --quiet --disable-pip-version-check prometheus_client
    export TALLY_REQUIRE_EXTERNAL=1
  fi
}

# benches/ is its own workspace (the peer libraries stay out of the main lockfile).
BENCHES=(--manifest-path benches/Cargo.toml)
fmt() {
  cargo fmt --all -- --check
  cargo fmt "${BENCHES[@]}" --all -- --check
}
clippy() {
  cargo clippy --workspace --all-targets --all-features -- -D warnings
  cargo clippy "${BENCHES[@]}" --workspace --all-targets -- -D warnings
}
docs() { cargo doc --workspace --no-deps --all-features; }
tests() { cargo test --workspace --all-features; }
# Child processes send snapshots over pipes; the parent's merge must equal the sum.
cross_process() { cargo run --release -p tallyx --example cross_process -- 8; }
# An axum service mounting /metrics in its own router: it sends itself requests and exits
# non-zero unless its own /metrics counts each by route and status.
axum_service() { cargo run -p tally-http --example axum_service; }
# The Python package (crates/tally-py): one abi3 wheel (CPython 3.10 and later) built with
# maturin in a build virtualenv, installed with pip into a fresh virtualenv that has no
# maturin and no Rust on its PATH, and its pytest suite, the example and the benchmark run
# against that installed wheel (TALLY_EXPECT_INSTALLED makes the suite check where `tally`
# was imported from).
python_binding() {
  local build="$ROOT/target/py-venv" run="$ROOT/target/py-wheel-venv" wheels="$ROOT/target/wheels"
  [ -x "$build/bin/python" ] || python3 -m venv "$build"
  "$build/bin/pip" install --quiet --disable-pip-version-check maturin
  rm -rf "$wheels" "$run"
  (cd crates/tally-py && VIRTUAL_ENV="$build" PATH="$build/bin:$PATH" \
    maturin build --release --quiet --out "$wheels")
  python3 -m venv "$run"
  env PATH="$run/bin:/usr/bin:/bin" "$run/bin/pip" install --quiet --disable-pip-version-check \
    "$wheels"/tallyx-*-abi3-*.whl pytest prometheus_client gunicorn opentelemetry-proto
  (cd "$ROOT/target" && env PATH="$run/bin:/usr/bin:/bin" TALLY_EXPECT_INSTALLED=1 \
    "$run/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/crates/tally-py/tests")
  "$run/bin/python" examples/python/inference_manager.py >/dev/null
  "$run/bin/python" crates/tally-py/bench/bench.py --test >/dev/null
  "$run/bin/python" crates/tally-py/bench/multiprocess_bench.py --test >/dev/null
}
# The stress and bad-input run of the public API in release: the coherence suite with 10^6
# histogram snapshots (debug builds take fewer), exact totals, thread churn, panic rollback,
# a writer parked mid-event, monotonicity, families (100,000 series), merges of overflowed
# families. No LTO and parallel codegen: the same code paths, built minutes sooner.
coherence_release() {
  local t tests=()
  for t in coherence exact_totals thread_churn panic_rollback paused_writer monotonic families \
    merge_overflow field_ids counter_saturation; do
    tests+=(--test "$t")
  done
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo test --release -p tallyx "${tests[@]}"
}
benches_test_mode() {
  cargo bench -p tally-sync --all-features --bench lock_overhead -- --test
  cargo bench -p tally-metrics --bench facade_overhead -- --test
  # Every bench of benches/ once (exact counts checked, peers and tally-http's scrape bench
  # included) with the unit tests of its library and report binary, its doc example, and
  # the report end to end, tiny, writing nothing. No LTO here: a test pass, not a measurement.
  CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
    cargo bench "${BENCHES[@]}" -- --test
  CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
    cargo test "${BENCHES[@]}" --profile bench --doc
  CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
    cargo run "${BENCHES[@]}" --profile bench --bin report -- --test
}
# The models in crates/tally-core/src/loom_tests.rs (the #[ignore]d long ones excepted).
loom() {
  # No LTO and parallel codegen: the models run the same, the build is minutes shorter.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    RUSTFLAGS="--cfg loom -Dwarnings" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
    CARGO_TARGET_DIR="$ROOT/target/loom" \
    cargo test -p tally-core --lib --release loom
}
# The core's small threaded tests (src/tests.rs) and the slot-reuse test (its own process).
miri() {
  # Isolation off: last-value fields read the wall clock (SystemTime) for their stamps.
  local flags="${MIRIFLAGS:--Zmiri-strict-provenance -Zmiri-disable-isolation}"
  MIRIFLAGS="$flags" CARGO_TARGET_DIR="$ROOT/target/miri" \
    cargo +nightly miri test -p tally-core --lib tests::
  MIRIFLAGS="$flags" CARGO_TARGET_DIR="$ROOT/target/miri" \
    cargo +nightly miri test -p tally-core --test slot_reuse
}
# TSan does not model fences: --cfg tally_tsan moves the latch's edges onto its accesses.
tsan_test() {
  RUSTFLAGS="-Zsanitizer=thread --cfg tally_tsan" RUSTDOCFLAGS="" \
    CARGO_TARGET_DIR="$ROOT/target/tsan" TSAN_OPTIONS="halt_on_error=1" \
    cargo +nightly test -Zbuild-std --target x86_64-unknown-linux-gnu "$@"
}
tsan() {
  tsan_test -p tally-core --lib --test slot_reuse
  if [ -z "${TALLY_SKIP_TSAN_STRESS:-}" ]; then
    # tally's integration tests: the stress tests (coherence, exact totals, churn, ...).
    tsan_test -p tallyx --tests
  fi
}
# The README's run command, shortened: exits non-zero if a count was lost or an invariant
# broke; --port 0 so that a busy 9464 on the CI machine does not matter.
# Exact instruction counts of the write path (callgrind), checked against issue 18's bounds:
# a regression gate that the machine's load cannot disturb.
insns_gate() { cargo run --release "${BENCHES[@]}" -p tally-insns -- --check; }
main_job() { cargo run --release -p tally-demo -- --duration 3s --port 0; }
# The cargo-fuzz targets (fuzz/, its own workspace): lint, build once, then run each for a
# short fixed time over its committed seeds (new inputs go to a scratch corpus). Needs
# nightly; cargo-fuzz is installed if missing. fuzz/README.md has the long runs.
fuzz_targets() {
  if ! rustup toolchain list | grep -q '^nightly'; then
    echo "no nightly toolchain: the fuzz targets need one (rustup toolchain install nightly)"
    return 0
  fi
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  cargo fmt --manifest-path fuzz/Cargo.toml -- --check
  # The workspace's target dir: the dependencies checked by the clippy step are reused.
  CARGO_TARGET_DIR="$ROOT/target" cargo clippy --manifest-path fuzz/Cargo.toml --bins -- -D warnings
  cargo +nightly fuzz build
  local work seconds="${TALLY_FUZZ_SECONDS:-15}" t rc
  work=$(mktemp -d)
  for t in $(cargo +nightly fuzz list); do
    local dict=()
    [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
    mkdir -p "$work/$t"
    rc=0
    cargo +nightly fuzz run "$t" "$work/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 "${dict[@]}" >"$work/$t.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      tail -n 60 "$work/$t.log"
      echo "fuzz target $t failed (exit $rc): the input is in fuzz/artifacts/$t/; see fuzz/README.md" >&2
      rm -rf "$work"
      return 1
    fi
    printf '%-22s %10s executions in %ss (%s/s)\n' "$t" \
      "$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")" "$seconds" \
      "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")"
  done
  rm -rf "$work"
}
# The declared minimum supported Rust version ([workspace.package] rust-version; 1.88 for
# let chains): every crate, every feature, checked with that toolchain and the lockfile's
# dependency versions, so that neither new code nor a `cargo update` raises it unnoticed.
# No crate is left out: every dependency in Cargo.lock builds with it.
msrv() {
  local msrv
  msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
  rustup toolchain list | grep -q "^$msrv" || rustup toolchain install "$msrv" --profile minimal
  CARGO_TARGET_DIR="$ROOT/target/msrv" cargo "+$msrv" check --workspace --all-features --locked
}
# Every published crate packaged and built from its package alone, as crates.io would
# (the unpublished workspace crates it depends on come from a local overlay): catches a
# file a crate needs that lives outside it, and metadata crates.io refuses. Every feature,
# as docs.rs builds them (a file included only under a feature is still needed).
# tally-demo and tally-py are `publish = false`. --allow-dirty: CI checks the tree it is
# given.
# cargo takes the packages it verifies against from a local overlay registry, and treats
# them as immutable, as it does any registry crate: it unpacks each .crate once (under
# $CARGO_HOME/registry/src/-<hash>/) and keeps its build by version. On a rerun it would
# verify against the previous run's sources, so both are removed first (a target dir of
# its own keeps the rest of the build).
publish_dry_run() {
  local dir="$ROOT/target/publish"
  rm -rf "$dir/package" "$dir"/debug/.fingerprint/tally-* \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/tally-[0-9]* \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/tallyx-[0-9]* \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/tally-[a-z]*-[0-9]*
  CARGO_TARGET_DIR="$dir" cargo publish --workspace --dry-run --locked --allow-dirty --all-features
}
check_32bit() {
  # powerpc-unknown-linux-gnu has std but no native 64-bit atomics: portable-atomic's path.
  CARGO_TARGET_DIR="$ROOT/target/ppc" cargo check -p tally-core -p tally-snapshot -p tally-epoch --target powerpc-unknown-linux-gnu
}

step "install rustup components, targets and external parsers" install
step "cargo fmt --check" fmt
step "clippy -D warnings (all targets, all features)" clippy
step "rustdoc -D warnings" docs
step "tests (debug, all features)" tests
step "minimum supported Rust version: cargo check" msrv
step "cargo publish --workspace --dry-run" publish_dry_run
step "cross-process example (8 children, merged totals exact)" cross_process
step "axum example (/metrics mounted in the service's router, its counts checked)" axum_service
step "python: abi3 wheel built, installed in a fresh virtualenv, pytest, example, benchmark in test mode" python_binding
# heavy VAR NAME FN: step NAME unless $VAR is set.
heavy() {
  local var=$1 name=$2
  shift 2
  if [ -z "${!var:-}" ]; then step "$name" "$@"; else skip "$name" "$var"; fi
}
heavy TALLY_SKIP_COHERENCE "stress tests in release (coherence with 10^6 snapshots per test, totals, churn, panics, families)" coherence_release
heavy TALLY_SKIP_DEMO "the main job (release, 3 s, checks every count and snapshot)" main_job
heavy TALLY_SKIP_BENCHES "benchmarks in test mode (each contender once, counts checked)" benches_test_mode
heavy TALLY_SKIP_INSNS "write-path instructions per event (callgrind) within their bounds" insns_gate
heavy TALLY_SKIP_LOOM "loom models (preemption bound ${LOOM_MAX_PREEMPTIONS:-2})" loom
heavy TALLY_SKIP_MIRI "Miri on the core's threaded unit tests" miri
heavy TALLY_SKIP_TSAN "ThreadSanitizer (tally_tsan variant)" tsan
heavy TALLY_SKIP_32BIT "cargo check for a 32-bit target without 64-bit atomics" check_32bit
heavy TALLY_SKIP_FUZZ "fuzz targets (${TALLY_FUZZ_SECONDS:-15}s each over the seed corpora)" fuzz_targets

echo
echo "==== time per step"
printf '%s\n' "${TIMES[@]}"
echo "total: $(( $(date +%s) - START_ALL ))s"
echo "ci/test.sh: all steps passed"
