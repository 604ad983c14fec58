#!/usr/bin/env bash
# The full reliability drill of docs/reliability.md: starts a private PostgreSQL and
# RabbitMQ (tests/services.sh), runs `rabt serve` with two api and two worker processes
# and the six simulators under steady load (30 requests/s), applies every fault one at a
# time (worker SIGKILL, api SIGKILL, RabbitMQ restart, PostgreSQL restart, one agency
# failing for half its deadline, poison messages) and prints what happened to every
# accepted request. Exits non-zero if anything was lost or applied twice, if the agency
# outage did not end every request OK, if the database restart did not answer 503s and
# recover, or if a healthy agency's p99 during the outage reached 1.5× its baseline.
# Extra arguments go to rabt-drill (e.g. --rate 40 --markdown out.md).
set -euo pipefail
cd "$(dirname "$0")/.."
tests/services.sh install
cargo build --locked -p rabt -p rabt-tests --bins
services_dir=$(mktemp -d /tmp/rabt-drill-services.XXXXXX)
trap 'tests/services.sh stop "$services_dir" || true' EXIT
tests/services.sh start "$services_dir" >"$services_dir/exports.sh"
source "$services_dir/exports.sh"
export RABT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rabt"
"${CARGO_TARGET_DIR:-$PWD/target}/debug/rabt-drill" "$@"
