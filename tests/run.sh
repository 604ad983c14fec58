#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this) and as the README tells a
# newcomer to run it on a fresh machine:
#   1. installs RabbitMQ and PostgreSQL from Debian when they are missing,
#   2. checks formatting and clippy (-D warnings),
#   3. builds the workspace once (one shared target dir),
#   4. starts a private PostgreSQL and RabbitMQ on free ports under a temp folder,
#   5. runs every test with cargo-nextest (unit, API, store on SQLite and PostgreSQL,
#      queue on RabbitMQ, end-to-end `rabt demo` and `rabt serve`), then alone the
#      tests that stop RabbitMQ,
#   6. scans the logs of every process the end-to-end tests ran for the fixture world's
#      identity numbers, mobiles and names (rabt-pii-scan),
#   7. runs the short cluster drill (a 3-node RabbitMQ cluster, a node killed) and the
#      benchmark harness briefly as a smoke test (their own services),
#   8. stops the services by PID, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { echo; echo "==> [$((SECONDS - start))s] $*"; }

step "services: installing what is missing"
tests/services.sh install
# Python packages of the tests (tests/requirements.txt: the Standard Webhooks reference
# library, independent verifiers) go into a venv of the suite's own, never the system's.
step "python: tests/requirements.txt into a venv"
venv="${CARGO_TARGET_DIR:-$PWD/target}/test-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export RABT_TEST_PYTHON="$venv/bin/python"

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "formatting"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building"
cargo build --workspace --bins --locked
cargo nextest run --workspace --locked --no-run

services_dir=$(mktemp -d /tmp/rabt-test-services.XXXXXX)
trap 'tests/services.sh stop "$services_dir" || true' EXIT
step "starting PostgreSQL and RabbitMQ in $services_dir"
tests/services.sh start "$services_dir" >"$services_dir/exports.sh"
source "$services_dir/exports.sh"
export RABT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rabt"
# Every rabt process an end-to-end test runs leaves a copy of its log here when it
# ends; the personal-data scan below reads them all.
export RABT_E2E_LOG_ARCHIVE="$services_dir/e2e-logs"

step "tests"
cargo nextest run --workspace --locked --profile ci "$@"

# Tests that stop the suite's own RabbitMQ or PostgreSQL (marked #[ignore] so the main
# run leaves them out) run alone, last, one at a time (the end-to-end test group), when
# the whole suite was asked for.
if [ $# -eq 0 ]; then
  step "broker outage and database restart (alone: they stop RabbitMQ, PostgreSQL)"
  cargo nextest run --workspace --locked --profile ci --run-ignored only

  # No identity number, mobile or name of the fixture world in any log line of any
  # process the end-to-end tests ran (stored errors, the audit log and the metrics are
  # scanned by tests/e2e/audit/drill.rs).
  step "personal data: scanning every end-to-end log for the fixture world's people"
  "${CARGO_TARGET_DIR:-$PWD/target}/debug/rabt-pii-scan" "$RABT_E2E_LOG_ARCHIVE"
  # A 3-node RabbitMQ cluster, 2 api and 3 worker processes under load; the node that
  # leads the task queues is SIGKILLed and started again: nothing lost or applied
  # twice (the full cluster drill, with Patroni, is tests/cluster.sh).
  step "cluster drill, short (tests/cluster.sh --short)"
  tests/cluster.sh --short

  # The benchmark harness end to end, briefly, on the debug build: it checks that every
  # stage runs and its numbers are sane, never that they are fast (docs/benchmarks.md).
  step "benchmark smoke test (tests/bench/run.sh --quick --debug)"
  tests/bench/run.sh --quick --debug
fi

step "all green in $((SECONDS - start))s"
