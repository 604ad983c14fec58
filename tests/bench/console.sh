#!/usr/bin/env bash
# The console's benchmark (issue 9): with a million requests in PostgreSQL, how long the
# overview and filtered request lists take to answer, their query plans (on indexes, no
# scans of the big tables), and what 50 open console pages (SSE feeds) cost an api
# process in CPU. A benchmark, not a test: it measures and writes a report; nothing in
# it asserts a time.
#
#   tests/bench/console.sh [--rows N] [--debug]     (defaults: 1000000, release build)
#
# It starts its own PostgreSQL and RabbitMQ (tests/services.sh) and one `rabt serve
# --role api`, and stops them by PID. Report: target/bench-console/report.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=1000000 profile=release
while (($#)); do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --debug) profile=debug; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/bench-console
mkdir -p "$out"
if [ "$profile" = release ]; then cargo build --release -p rabt --bins --locked; else cargo build -p rabt --bins --locked; fi
rabt=$target/$profile/rabt
dir=$(mktemp -d /tmp/rabt-bench-console.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  tests/services.sh stop "$dir" || true
  rm -rf "$dir/pg" "$dir/rmq"
}
trap cleanup EXIT
tests/services.sh start "$dir" >"$dir/exports.sh"
source "$dir/exports.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
db=${RABT_TEST_DATABASE_URL%/postgres}/rabt_console_bench
psql "$RABT_TEST_DATABASE_URL" -qc "CREATE DATABASE rabt_console_bench"
api_port=$(free_port) ops_port=$(free_port)
export RABT_DATABASE_URL=$db RABT_AMQP_URL=$RABT_TEST_AMQP_URL RABT_LISTEN=127.0.0.1:$api_port \
  RABT_OPS_LISTEN=127.0.0.1:$ops_port RABT_LOG=warn
# rabt serve refuses to start without the deployment's personal-data key.
RABT_PII_KEY=$("$rabt" audit pii-keygen)
export RABT_PII_KEY
"$rabt" migrate >/dev/null
echo "seeding $rows requests…"
start=$SECONDS
psql "$db" -q -v rows="$rows" -f tests/bench/console/seed.sql
seed_secs=$((SECONDS - start))
token=$("$rabt" operator add --name bench --role admin | sed -n 's/^token: *//p')
"$rabt" serve --role api >"$dir/api.log" 2>&1 &
api=$!; pids+=("$api")
ops=http://127.0.0.1:$ops_port
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$api_port/readyz" >/dev/null && break; sleep 0.5; done
coop=coop_$(printf '%032x' 7)

# Server time of one call: curl's time to the first byte on loopback (the overview is
# computed at most every 2 s per process, so its samples are spaced 2.2 s apart).
samples=0
sample() {
  local name=$1 url=$2 gap=$3 n=${4:-15} file
  samples=$((samples + 1)); file=$out/sample-$samples.times
  for _ in $(seq "$n"); do
    curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' -H "Authorization: Bearer $token" "$url"
    sleep "$gap"
  done >"$file"
  python3 - "$file" "$name" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
assert all(r[0] == "200" for r in rows), rows
ms = sorted(float(r[1]) * 1000 for r in rows)
print(f"| {sys.argv[2]} | {len(ms)} | {statistics.median(ms):.1f} | {ms[-1]:.1f} |")
PY
}
{
  echo "# Console benchmark: $rows requests"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $profile build, $(nproc) cores shared with whatever else runs; seeding took ${seed_secs}s."
  echo
  echo "| call | samples | median ms | max ms |"
  echo "|---|---|---|---|"
  sample "GET /ops/v1/overview (computed each time)" "$ops/ops/v1/overview" 2.2
  sample "GET /ops/v1/requests?service=…&window=24h" "$ops/ops/v1/requests?service=post.address.verify&window=24h" 0.2
  sample "GET /ops/v1/requests?cooperative=…&window=24h" "$ops/ops/v1/requests?cooperative=$coop&window=24h" 0.2
  sample "GET /ops/v1/requests?status=RUNNING" "$ops/ops/v1/requests?status=RUNNING" 0.2
  sample "GET /ops/v1/requests (no filter)" "$ops/ops/v1/requests" 0.2
  sample "GET /ops/v1/cooperatives (24 h activity)" "$ops/ops/v1/cooperatives" 0.2
  sample "GET /ops/v1/audit?cooperative=…&window=24h" "$ops/ops/v1/audit?cooperative=$coop&window=24h" 0.2
} >"$out/report.md"

# The plans of the overview's and the lists' queries, as PostgreSQL runs them.
now_ms=$(psql "$db" -tAc "SELECT (extract(epoch FROM now()) * 1000)::bigint")
hour=$((now_ms - 3600000)) day=$((now_ms - 86400000))
{
  echo
  echo "## Plans"
  for q in \
    "SELECT completed_at, outcome, latency_ms, last_error FROM tasks WHERE agency = 'labor' AND completed_at >= $hour ORDER BY completed_at DESC LIMIT 5000" \
    "SELECT completed_at, outcome, latency_ms, last_error FROM tasks WHERE agency = 'labor' AND completed_at IS NOT NULL AND outcome IN ('UPSTREAM_ERROR', 'TIMEOUT') ORDER BY completed_at DESC LIMIT 1" \
    "SELECT completed_at, outcome, latency_ms, last_error FROM tasks WHERE agency = 'labor' AND completed_at IS NOT NULL AND outcome NOT IN ('UPSTREAM_ERROR', 'TIMEOUT') ORDER BY completed_at DESC LIMIT 1" \
    "SELECT service, COUNT(*) AS n FROM requests WHERE created_at >= $hour GROUP BY service ORDER BY service" \
    "SELECT agency, COUNT(*) AS n FROM dead_letters WHERE replayed_at IS NULL AND purged_at IS NULL GROUP BY agency" \
    "SELECT id, cooperative_id, service, status, verdict, created_at, completed_at FROM requests WHERE 1 = 1 AND service = 'post.address.verify' AND created_at >= $day ORDER BY id DESC LIMIT 51" \
    "SELECT id, cooperative_id, service, status, verdict, created_at, completed_at FROM requests WHERE 1 = 1 AND cooperative_id = '$coop' AND created_at >= $day ORDER BY id DESC LIMIT 51" \
    "SELECT id, cooperative_id, service, status, verdict, created_at, completed_at FROM requests WHERE 1 = 1 AND status = 'RUNNING' ORDER BY id DESC LIMIT 51" \
    "SELECT cooperative_id, COUNT(*) AS requests FROM requests WHERE created_at >= $day GROUP BY cooperative_id"; do
    echo
    echo '```'
    echo "$q"
    psql "$db" -tAc "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON, SUMMARY ON) $q"
    echo '```'
  done
} >>"$out/report.md"

# CPU of the api process: 60 s idle, then 60 s with 50 open overview pages (SSE).
ticks() { awk '{print $14 + $15}' "/proc/$api/stat"; }
hz=$(getconf CLK_TCK)
cpu_over() { local a b; a=$(ticks); sleep 60; b=$(ticks); python3 -c "print(f'{($b - $a) / $hz / 60 * 100:.2f}')"; }
idle=$(cpu_over)
cookie=$(curl -s -o /dev/null -D - -X POST -H "Origin: $ops" --data-urlencode "token=$token" "$ops/console/login" \
  | sed -n 's/^set-cookie: \(rabt_console=[^;]*\).*/\1/Ip')
feeds=()
for _ in $(seq 50); do
  curl -sN -H "Cookie: $cookie" "$ops/console/events" >/dev/null &
  feeds+=("$!"); pids+=("$!")
done
sleep 5
events=$(timeout 8 curl -sN -H "Cookie: $cookie" "$ops/console/events" | grep -c '^event: overview' || true)
busy=$(cpu_over)
kill "${feeds[@]}" 2>/dev/null || true
{
  echo
  echo "## 50 open console pages"
  echo
  echo "api process CPU (% of one core, 60 s each): idle $idle %, with 50 SSE feeds $busy %; one more feed got $events overview event(s) in 8 s."
} >>"$out/report.md"
cat "$out/report.md"
