#!/usr/bin/env bash
# Rabt's benchmark (issue 5): one run on one machine, reported as ratios.
#
#   tests/bench/run.sh            the full run (~15 min after the release build); writes
#                                 docs/benchmarks.md and docs/benchmarks.json
#   tests/bench/run.sh --quick    every stage briefly (< 3 min once built); checks only
#                                 that the harness works and the numbers are sane (never
#                                 speed); writes its reports into its temp folder
#
# Options:
#   --no-profile   skip perf and pg_stat_statements (--profile: profile a quick run too)
#   --pg-fsync off PostgreSQL without fsync, as the test suite runs it (default: on, as
#                  production runs it)
#   --keep         keep the temp folder whole (a quick run keeps its reports and logs)
#   --rev REV      measure the rabt of a commit (e.g. HEAD), built from `git archive REV`,
#                  instead of the working tree: for a tree others are changing
#   --debug        use the debug build (tests/run.sh's) instead of a release build: for
#                  the smoke test in CI, whose numbers are only checked for sanity
#
# What it does, in order, all under one temp folder and stopped by PID at the end:
#   build    cargo build --release -p rabt -p rabt-bench; installs wrk if missing
#   services tests/services.sh start: a private PostgreSQL and RabbitMQ
#   L0       rabt-bench l0: raw lapin publish (confirms) + consume (acks), quorum queue
#   G        rabt migrate, coop add, serve --role api (no worker: only the accept path);
#            wrk saturation, then rabt-bench rate at 25/50/75 % of it
#   P        the peer (tests/bench/peer, FastAPI + uvicorn) in a venv; the same
#   E        rabt simulate + serve --role api + --role worker on a fresh database and
#            vhost; then rabt demo; for both services: wrk with Prefer: wait (verdicts
#            per second), then fixed rates at 25/50/75 % of that and (full run) of G's
#   profile  perf record of the api (G at 50 %) and of the worker and api (E at 75 % of
#            each service's saturation), with pg_stat_statements over the same runs
#   report   rabt-bench report (markdown + JSON); --quick: rabt-bench check
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
start=$SECONDS
step() { echo; echo "==> [$((SECONDS - start))s] $*"; }

quick=0 profile= pg_fsync=on keep=0 rev= build=release
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --no-profile) profile=0 ;;
    --profile) profile=1 ;;
    --pg-fsync) pg_fsync=${2:?--pg-fsync on|off}; shift ;;
    --keep) keep=1 ;;
    --rev) rev=${2:?--rev REV}; shift ;;
    --debug) build=debug ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
  esac
  shift
done

if ((quick)); then
  l0_messages=2000 l0_runs=1 wrk_warm=1 wrk_secs=3 warmup=0.5 secs=2 profile=${profile:-0} profile_secs=3
else
  l0_messages=50000 l0_runs=3 wrk_warm=3 wrk_secs=20 warmup=2 secs=20 profile=${profile:-1} profile_secs=15
fi
wrk_threads=${BENCH_WRK_THREADS:-2} wrk_connections=${BENCH_WRK_CONNECTIONS:-64}
shares=(25 50 75)
services_list=(post.address.verify cooperative.establishment.check)

dir=$(mktemp -d /tmp/rabt-bench.XXXXXX)
# PostgreSQL runs as `postgres` and must reach its data folder inside.
chmod 755 "$dir"
mkdir -p "$dir/results" "$dir/logs" "$dir/scratch"
results=$dir/results logs=$dir/logs
if ((quick)); then
  out_md=$dir/benchmarks.md out_json=$dir/benchmarks.json
else
  out_md=$root/docs/benchmarks.md out_json=$root/docs/benchmarks.json
fi

# Every process this script starts, stopped by PID (newest first) on exit.
pids=()
stop_pid() {
  local pid=$1 deadline=$((SECONDS + 20))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  [ -d "$dir/services" ] && tests/services.sh stop "$dir/services" >/dev/null 2>&1 || true
  if ((status != 0)); then
    echo "benchmark failed (status $status); logs kept in $dir/logs" >&2
  elif ((keep == 0 && quick == 0)); then
    rm -rf "$dir"
  elif ((keep == 0)); then
    # A quick run keeps its reports and logs (a few MB), not its databases and venv.
    rm -rf "$dir/services" "$dir/venv" "$dir/demo"
  fi
}
trap cleanup EXIT

# Starts a process in the background with its output in logs/NAME.log; sets $started.
spawn() {
  local name=$1; shift
  "$@" >"$logs/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
}
stop() {
  local pid=$1 kept=()
  stop_pid "$pid"
  for p in "${pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}
# Waits up to $1 seconds for a URL to answer 2xx while process $2 lives.
wait_http() {
  local seconds=$1 pid=$2 url=$3 deadline=$((SECONDS + $1))
  until curl -sf -o /dev/null "$url"; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "$url did not answer within ${seconds}s" >&2; return 1
    fi
    sleep 0.2
  done
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
meta() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$dir/meta.tsv"; }
observe() { meta Observations "$1" "$2"; echo "    $1: $2"; }

step "build ($build)"
target=${CARGO_TARGET_DIR:-$root/target}
if [ "$build" = debug ]; then
  cargo build --locked -p rabt -p rabt-bench
elif [ -n "$rev" ]; then
  # A fixed folder, and git archive keeps the commit's times: a second run of the same
  # commit rebuilds nothing.
  src=$target/bench-src
  rm -rf "$src" && mkdir -p "$src"
  git archive "$rev" | tar -x -C "$src"
  # Not --locked: a commit's lock file may be a step behind its manifests.
  (cd "$src" && CARGO_TARGET_DIR=$target cargo build --release -p rabt)
  cargo build --release --locked -p rabt-bench
else
  cargo build --release --locked -p rabt -p rabt-bench
fi
rabt=$target/$build/rabt bench=$target/$build/rabt-bench
if ! command -v wrk >/dev/null; then
  step "installing wrk"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk
fi
source tests/bench/lib.sh

step "services: PostgreSQL and RabbitMQ in $dir/services"
tests/services.sh start "$dir/services" >"$dir/services.env"
source "$dir/services.env"
pg_durability "$dir/services" "$pg_fsync"
broker_pid=$(cat "$dir/services/rmq/beam.pid")
db_pid=$(head -n 1 "$dir/services/pg/data/postmaster.pid")
infra=(--watch "broker=$broker_pid" --watch "db=$db_pid")
describe_run

step "L0: raw lapin, quorum queue, confirms (window 1000), consume (prefetch 200)"
"$bench" l0 --amqp-url "$RABT_TEST_AMQP_URL" --messages "$l0_messages" --runs "$l0_runs" \
  --window 1000 --prefetch 200 "${infra[@]}" --stage L0 --system broker --out "$results/01-l0.json"

step "G: Rabt's accept path (rabt serve --role api, production mode)"
g_sat=$results/10-g-saturation.json
deploy_rabt g
spawn g-api env "${rabt_env[@]}" "$rabt" serve --role api
g_api=$started
wait_http 60 "$g_api" "$api_base/readyz"
g_watch=(--watch "api=$g_api" "${infra[@]}")
saturate "$api_base/v1/requests" G production "$g_sat" "${g_watch[@]}"
outbox_drained g
for share in "${shares[@]}"; do
  "$bench" rate --url "$api_base/v1/requests" --of-saturation "$g_sat" --share "$share" \
    --basis G --duration "$secs" --warmup "$warmup" --mode accept "${g_watch[@]}" \
    --stage G --system production --service post.address.verify --out "$results/11-g-$share.json"
done
if ((profile)); then
  profile_run "G: POST /v1/requests at 50 % of G's saturation" 1 "$rabt_db" "api=$g_api" -- \
    "$bench" rate --url "$api_base/v1/requests" --of-saturation "$g_sat" --share 50 \
    --mode accept --stage G --system production
fi
check_stored g
stop "$g_api"

step "P: the peer (FastAPI + uvicorn, 2 workers)"
p_sat=$results/20-p-saturation.json
deploy_peer
p_watch=(--watch "peer=$peer_pid" "${infra[@]}")
saturate "$peer_base/v1/requests" P peer "$p_sat" "${p_watch[@]}"
for share in "${shares[@]}"; do
  "$bench" rate --url "$peer_base/v1/requests" --of-saturation "$p_sat" \
    --share "$share" --basis P --duration "$secs" --warmup "$warmup" --mode accept "${p_watch[@]}" \
    --stage P --system peer --service post.address.verify --out "$results/21-p-$share.json"
done
stop "$peer_pid"

step "E: end to end, production (rabt simulate + serve api + serve worker)"
deploy_rabt e
start_simulators
spawn e-api env "${rabt_env[@]}" "$rabt" serve --role api
e_api=$started
spawn e-worker env "${rabt_env[@]}" "$rabt" serve --role worker
e_worker=$started
wait_http 60 "$e_api" "$api_base/readyz"
e_watch=(--watch "api=$e_api" --watch "worker=$e_worker" --watch "simulators=$sim_pid" "${infra[@]}")
end_to_end production 30 "$api_base" "$api_key" "${e_watch[@]}"
if ((profile)); then
  # At 75 % of what the pipeline sustains (each service's end-to-end saturation): busy,
  # but not falling behind.
  n=2
  for sat in "$results"/30-*-e-production-saturation.json; do
    service=$(jq -r .label.service "$sat")
    profile_run "E: $service end to end at 75 % of its saturation" $n "$rabt_db" \
      "worker=$e_worker" "api=$e_api" -- \
      "$bench" rate --url "$api_base/v1/requests" --of-saturation "$sat" --share 75 \
      --mode end-to-end --stage E --system production --service "$service"
    n=$((n + 1))
  done
fi
stop "$e_worker"; stop "$e_api"; stop "$sim_pid"

step "E: end to end, rabt demo (one process, embedded)"
demo_port=$(free_port)
spawn demo "$rabt" demo --listen "127.0.0.1:$demo_port" --state-dir "$dir/demo"
demo_pid=$started
wait_http 60 "$demo_pid" "http://127.0.0.1:$demo_port/readyz"
demo_key=$(jq -r .api_key "$dir/demo/demo-credentials.json")
end_to_end demo 40 "http://127.0.0.1:$demo_port" "$demo_key" --watch "demo=$demo_pid"
stop "$demo_pid"

step "report"
includes=()
if ((profile)); then
  printf '## Where the database time goes (this run)\n\n' >"$dir/scratch/statements-0.md"
  for page in "$dir"/scratch/statements-*.md; do includes+=(--include "$page"); done
fi
((quick)) || includes+=(--include tests/bench/findings.md --include tests/bench/audit.md)
includes+=(--include tests/bench/method.md)
"$bench" report --results "$results" --meta "$dir/meta.tsv" "${includes[@]}" \
  --markdown "$out_md" --json "$out_json"
echo "    $out_md"
echo "    $out_json"
if ((quick)); then
  step "sanity (numbers above zero, every request accepted or completed with PASS, no error)"
  "$bench" check --results "$results"
elif ! "$bench" check --results "$results"; then
  echo "    (the full run had errors or overloads: see the tables)"
fi
step "done in $((SECONDS - start))s"
