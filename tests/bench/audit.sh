#!/usr/bin/env bash
# The sealed audit log's two figures (issue 10), on a private PostgreSQL and RabbitMQ:
#
#   lag       rabt serve --role api (which also seals: it holds the signing key) under
#             wrk's saturation of POST /v1/requests (the accept path, 2 threads × 64
#             connections); every 0.1 s a sampler reads the entries committed and the
#             latest checkpoint's size; an entry's checkpoint lag is the time from the
#             sample that first counts it to the first sample whose checkpoint covers it.
#   evidence  a log of --entries entries (filler rows written by SQL, then sealed by the
#             same sealer, timed) and one real request's entries at its end; wrk with 1
#             connection on GET /v1/requests/{id}/evidence: the latency of one call;
#             then `rabt audit verify` of the whole log, timed.
#
#   tests/bench/audit.sh [--debug] [--entries N] [--secs S] [--only lag|evidence]
#
# It prints a markdown section (also left in its folder as audit.md); the figures of a
# run are copied by hand into tests/bench/audit.md, which docs/benchmarks.md includes.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=release entries=1000000 secs=20 only=
while (($#)); do
  case "$1" in
    --debug) build=debug ;;
    --only) only=${2:?--only lag|evidence}; shift ;;
    --entries) entries=${2:?}; shift ;;
    --secs) secs=${2:?}; shift ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
  shift
done
target=${CARGO_TARGET_DIR:-$PWD/target}
if [ "$build" = release ]; then cargo build -q --release -p rabt; else cargo build -q -p rabt; fi
rabt=$target/$build/rabt

dir=$(mktemp -d /tmp/rabt-audit-bench.XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  tests/services.sh stop "$dir/services" >/dev/null 2>&1 || true
}
trap cleanup EXIT
tests/services.sh start "$dir/services" >"$dir/env.sh" 2>"$dir/services.log"
source "$dir/env.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
  local deadline=$((SECONDS + 60))
  until curl -sf -o /dev/null "$1"; do
    ((SECONDS < deadline)) || { echo "$1 did not answer" >&2; exit 1; }
    sleep 0.2
  done
}
signing_key=$("$rabt" audit keygen --name rabt-bench/audit | sed -n 's/^signing key: *//p')
pii_key=$("$rabt" audit pii-keygen)

# A database, a vhost, a cooperative and an api process that seals; sets db, base, key.
deploy() {
  local name=$1 port
  psql "$RABT_TEST_DATABASE_URL" -qc "CREATE DATABASE audit_$name"
  db=${RABT_TEST_DATABASE_URL%/postgres}/audit_$name
  curl -sf -X PUT "$RABT_TEST_RABBITMQ_API/vhosts/$name"
  curl -sf -X PUT -H 'content-type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' "$RABT_TEST_RABBITMQ_API/permissions/$name/guest"
  port=$(free_port)
  base=http://127.0.0.1:$port
  env=(RABT_DATABASE_URL="$db" RABT_AMQP_URL="${RABT_TEST_AMQP_URL%/*}/$name" RABT_LISTEN="127.0.0.1:$port"
       RABT_PII_KEY="$pii_key" RABT_AUDIT_SIGNING_KEY="$signing_key" RABT_AUDIT_ORIGIN=rabt-bench/audit
       RABT_LOG=warn)
  env "${env[@]}" "$rabt" migrate >"$dir/$name-migrate.log" 2>&1
  key=$(env "${env[@]}" "$rabt" coop add --name Bench --unified-number 7000000001 \
    --services post.address.verify | sed -n 's/^api key: *//p')
  env "${env[@]}" "$rabt" serve --role api >"$dir/$name-api.log" 2>&1 &
  pids+=($!)
  wait_http "$base/readyz"
}

lag_p50=- lag_p99=- lag_max=- accepted=- p50=- p99=- rate=- size=$entries sealing=- nodes=- verified=-
if [ "$only" != evidence ]; then
echo "==> lag: checkpoints under the accept path's saturation (${secs}s)"
deploy lag
printf '{"service":"post.address.verify","input":{"shortAddress":"RRRD2929"}}' >"$dir/body.json"
# One session sampling every 0.1 s (a psql per sample costs more than the interval on a
# busy machine, and coarse samples would overstate the lag).
psql "$db" -tAF' ' >"$dir/samples.txt" 2>/dev/null <<'EOF' &
SELECT extract(epoch FROM clock_timestamp()), (SELECT count(*) FROM audit_log),
  (SELECT COALESCE(max(tree_size), 0) FROM audit_checkpoints) \watch 0.1
EOF
sampler=$!
pids+=($sampler)
BENCH_BODY_FILE=$dir/body.json BENCH_API_KEY=$key BENCH_KEY_PREFIX=lag \
  wrk -t2 -c64 -d"${secs}s" -s tests/bench/wrk-post.lua "$base/v1/requests" >"$dir/wrk-lag.txt"
stopped=$(date +%s.%N)
deadline=$((SECONDS + 120))
until [ "$(psql "$db" -tAc 'SELECT (SELECT count(*) FROM audit_log) = (SELECT COALESCE(max(tree_size), 0) FROM audit_checkpoints)')" = t ]; do
  if ((SECONDS >= deadline)); then
    echo "the sealer did not catch up within 120 s:" >&2
    psql "$db" -c "SELECT (SELECT count(*) FROM audit_log) AS entries,
      (SELECT count(*) FROM audit_leaves) AS leaves, (SELECT count(*) FROM audit_gaps) AS gaps,
      (SELECT max(seq) FROM audit_log) AS max_seq, (SELECT max(seq) FROM audit_leaves) AS max_sealed" >&2
    psql "$db" -c "SELECT a.seq, a.action, g.seq IS NOT NULL AS recorded_as_gap FROM audit_log a
      LEFT JOIN audit_gaps g ON g.seq = a.seq WHERE a.seq NOT IN (SELECT seq FROM audit_leaves) ORDER BY a.seq LIMIT 10" >&2
    psql "$db" -c "SELECT seq FROM audit_gaps ORDER BY seq DESC LIMIT 10" >&2
    psql "$db" -c "SELECT pg_current_snapshot()" >&2
    psql "$RABT_TEST_DATABASE_URL" -c "SELECT pid, datname, backend_xid, state, xact_start, left(query, 60) FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR state <> 'idle'" >&2
    exit 1
  fi
  sleep 0.2
done
sleep 0.5
kill "$sampler"
kill -TERM "${pids[0]}"
lag=$(python3 - "$dir/samples.txt" "$stopped" <<'EOF'
import sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 3]
stopped = float(sys.argv[2])
lags = []
for i, (t, count, _) in enumerate(rows):
    if t > stopped or count == 0:
        continue
    covered = next((t2 for (t2, _, size) in rows[i:] if size >= count), None)
    if covered is not None:
        lags.append(covered - t)
lags.sort()
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]
print(f"{len(lags)} {q(0.5):.2f} {q(0.99):.2f} {lags[-1]:.2f} {int(rows[-1][1])}")
EOF
)
read -r n_samples lag_p50 lag_p99 lag_max lag_entries <<<"$lag"
accepted=$(grep -m1 'Requests/sec' "$dir/wrk-lag.txt" | awk '{print $2}')
echo "    $accepted requests/s accepted; checkpoint lag p50 ${lag_p50}s, p99 ${lag_p99}s, max ${lag_max}s over $n_samples samples ($lag_entries entries)"

fi

if [ "$only" != lag ]; then
echo "==> evidence: one request's proofs in a log of $entries entries"
deploy evidence
psql "$db" -qc "INSERT INTO audit_log (at, actor_kind, action, outcome, detail)
  SELECT (extract(epoch FROM now()) * 1000)::bigint, 'system', 'bench.filler', 'OK',
         '{\"i\":' || i || '}' FROM generate_series(1, $entries - 2) AS i"
t0=$(date +%s.%N)
reply=$(curl -sf -X POST "$base/v1/requests" -H "Authorization: Bearer $key" \
  -H "Idempotency-Key: evidence-1" -H 'Content-Type: application/json' --data @"$dir/body.json")
id=$(jq -r .id <<<"$reply")
deadline=$((SECONDS + 3600))
until [ "$(curl -sf -H "Authorization: Bearer $key" "$base/v1/requests/$id/evidence" | jq .pending)" = 0 ]; do
  ((SECONDS < deadline)) || { echo "the log was not sealed within an hour" >&2; exit 1; }
  sleep 1
done
sealing=$(python3 -c "import time; print(f'{time.time() - $t0:.0f}')")
size=$(curl -sf -H "Authorization: Bearer $key" "$base/v1/requests/$id/evidence" | jq .tree_size)
cat >"$dir/evidence.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $key"
EOF
wrk -t1 -c1 -d"${secs}s" --latency -s "$dir/evidence.lua" "$base/v1/requests/$id/evidence" >"$dir/wrk-evidence.txt"
p50=$(awk '/ 50%/ {print $2}' "$dir/wrk-evidence.txt")
p99=$(awk '/ 99%/ {print $2}' "$dir/wrk-evidence.txt")
rate=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk-evidence.txt")
nodes=$(psql "$db" -tAc 'SELECT count(*) FROM audit_nodes')
t0=$(date +%s.%N)
env "${env[@]}" "$rabt" audit verify >"$dir/verify.log" 2>&1 || { cat "$dir/verify.log" >&2; exit 1; }
verified=$(python3 -c "import time; print(f'{time.time() - $t0:.0f}')")
echo "    sealed $size entries in ${sealing}s ($nodes nodes); evidence p50 $p50, p99 $p99 ($rate calls/s, one at a time); verified in ${verified}s"
fi

cat >"$dir/audit.md" <<EOF
| figure | target | this run |
|---|---|---|
| checkpoint lag at the accept path's saturation ($accepted requests/s, ${secs}s) | < 2 s | p50 ${lag_p50} s, p99 ${lag_p99} s, max ${lag_max} s |
| \`GET /v1/requests/{id}/evidence\` in a log of $size entries, one call at a time | ≤ 20 ms | p50 $p50, p99 $p99 ($rate calls/s) |
| sealing $entries entries from scratch (one sealer) | | ${sealing} s, $nodes nodes stored |
| \`rabt audit verify\` of the whole log | | ${verified} s |

Build: $build; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) × $(nproc); load at start $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC').
EOF
echo
cat "$dir/audit.md"
echo "(kept in $dir/audit.md)"
