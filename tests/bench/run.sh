#!/usr/bin/env bash
# Rabt's benchmark (issue 5): one run on one machine, reported as ratios.
#
#   tests/bench/run.sh            the full run (~15 min after the release build); writes
#                                 docs/benchmarks.md and docs/benchmarks.json
#   tests/bench/run.sh --quick    every stage briefly (< 3 min once built); checks only
#                                 that the harness works: every stage leaves its records
#                                 and the reports render. Never speed: on a busy machine a
#                                 stage that measured nothing in its short window says so
#                                 and the run goes on at a small fallback rate. Writes its
#                                 reports into its temp folder
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
#   --baseline REV also build REV (git archive into a target dir of its own) and measure
#                  it beside the current build, taking turns at every measurement of G
#                  and E (systems production@baseline, demo@baseline): before and after
#                  as two columns of one run ("Against the baseline" in the report)
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
#   profile  perf record of the api (G at 50 %), of the worker and api (E at 75 % of
#            each service's saturation), with pg_stat_statements over the same runs, and
#            of the demo (its composite at 75 % of its saturation)
#   report   rabt-bench report (markdown + JSON); --quick: rabt-bench check
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
start=$SECONDS
step() { echo; echo "==> [$((SECONDS - start))s] $*"; }

quick=0 profile= pg_fsync=on keep=0 rev= build=release baseline=
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --no-profile) profile=0 ;;
    --profile) profile=1 ;;
    --pg-fsync) pg_fsync=${2:?--pg-fsync on|off}; shift ;;
    --keep) keep=1 ;;
    --rev) rev=${2:?--rev REV}; shift ;;
    --baseline) baseline=${2:?--baseline REV}; shift ;;
    --debug) build=debug ;;
    *) sed -n '2,26p' "$0" >&2; exit 2 ;;
  esac
  shift
done

if ((quick)); then
  l0_messages=2000 l0_runs=1 wrk_warm=1 wrk_secs=3 warmup=0.5 secs=2 profile=${profile:-0} profile_secs=3
  # Few connections: 64 composites at once in a debug build on a busy machine may not
  # finish one verdict inside a 3 s window. What a stage measured is only sanity-checked.
  connections=8 fallback=(--fallback-rate 2) smoke=(--smoke)
else
  l0_messages=50000 l0_runs=3 wrk_warm=3 wrk_secs=20 warmup=2 secs=20 profile=${profile:-1} profile_secs=15
  connections=64 fallback=() smoke=()
fi
wrk_threads=${BENCH_WRK_THREADS:-2} wrk_connections=${BENCH_WRK_CONNECTIONS:-$connections}
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
  if ((keep)); then
    echo "the run's folder is kept whole: $dir" >&2
  elif ((status == 0 && quick == 0)); then
    rm -rf "$dir"
  else
    # A quick or failed run keeps its reports, results and logs (a few MB), never its
    # databases, venv, demo state and profiles (~250 MB).
    rm -rf "$dir/services" "$dir/venv" "$dir"/demo "$dir"/demob "$dir"/pki-* "$dir"/scratch/perf-*.data
  fi
  ((status == 0)) || echo "benchmark failed (status $status); logs kept in $dir/logs" >&2
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
# The system label of what the --baseline build measured (rabt-bench's record::BASELINE).
BASELINE=@baseline
if [ -n "$baseline" ]; then
  # Its own source folder and target dir: the current build's artefacts stay as they are,
  # and a second run against the same revision rebuilds nothing.
  base_src=$target/bench-baseline-src base_target=$target/bench-baseline
  rm -rf "$base_src" && mkdir -p "$base_src"
  git archive "$baseline" | tar -x -C "$base_src"
  step "build the baseline $baseline ($build) in $base_target"
  profile_flag=(--release)
  [ "$build" = debug ] && profile_flag=()
  (cd "$base_src" && CARGO_TARGET_DIR=$base_target cargo build "${profile_flag[@]}" -p rabt)
  base_rabt=$base_target/$build/rabt
fi
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
# Each build's api on a database and vhost of its own; with a baseline both run, and
# take turns at every measurement.
g_builds=(g)
deploy_rabt g "$rabt" production
spawn g-api env "${rabt_env[@]}" "$rabt" serve --role api
g_api=$started g_watch="--watch api=$g_api"
if [ -n "$baseline" ]; then
  g_builds+=(gb)
  deploy_rabt gb "$base_rabt" "production$BASELINE"
  spawn gb-api env "${rabt_env[@]}" "$base_rabt" serve --role api
  gb_api=$started gb_watch="--watch api=$gb_api"
fi
for b in "${g_builds[@]}"; do
  api=${b}_api base=${b}_base
  wait_http 60 "${!api}" "${!base}/readyz"
done
for b in "${g_builds[@]}"; do
  out=$results/10-$b-saturation.json
  [ "$b" = g ] && out=$g_sat
  on "$b" saturate G "$out"
done
outbox_drained g
for share in "${shares[@]}"; do
  for b in "${g_builds[@]}"; do
    # Both builds at the same offered load: shares of the current build's saturation.
    on "$b" rate --of-saturation "$g_sat" --share "$share" --basis G \
      --duration "$secs" --warmup "$warmup" --mode accept "${fallback[@]}" \
      --stage G --service post.address.verify --out "$results/11-$b-$share.json"
  done
done
if ((profile)); then
  profile_run "G: POST /v1/requests at 50 % of G's saturation" 1 "$g_db" post.address.verify "api=$g_api" -- \
    "$bench" rate --url "$g_base/v1/requests" --key "$g_key" --of-saturation "$g_sat" --share 50 \
    --mode accept --stage G --system production
fi
check_stored g
for b in "${g_builds[@]}"; do api=${b}_api; stop "${!api}"; done

step "P: the peer (FastAPI + uvicorn, 2 workers)"
p_sat=$results/20-p-saturation.json
deploy_peer
p_watch=(--watch "peer=$peer_pid" "${infra[@]}")
saturate "$peer_base/v1/requests" P peer "$p_sat" "${p_watch[@]}"
for share in "${shares[@]}"; do
  "$bench" rate --url "$peer_base/v1/requests" --of-saturation "$p_sat" \
    --share "$share" --basis P --duration "$secs" --warmup "$warmup" --mode accept "${fallback[@]}" "${p_watch[@]}" \
    --stage P --system peer --service post.address.verify --out "$results/21-p-$share.json"
done
stop "$peer_pid"

step "E: end to end, production (rabt simulate + serve api + serve worker)"
e_builds=(e)
deploy_rabt e "$rabt" production
[ -n "$baseline" ] && e_builds+=(eb) && deploy_rabt eb "$base_rabt" "production$BASELINE"
for b in "${e_builds[@]}"; do start_pipeline "$b"; done
for b in "${e_builds[@]}"; do
  api=${b}_api base=${b}_base
  wait_http 60 "${!api}" "${!base}/readyz"
done
end_to_end 30 "${e_builds[@]}"
if ((profile)); then
  # At 75 % of what the pipeline sustains (each service's end-to-end saturation): busy,
  # but not falling behind. The current build only.
  n=2
  for sat in "$results"/30-*-e-e-saturation.json; do
    service=$(jq -r .label.service "$sat")
    profile_run "E: $service end to end at 75 % of its saturation" $n "$e_db" "$service" \
      "worker=$e_worker" "api=$e_api" -- \
      "$bench" rate --url "$e_base/v1/requests" --key "$e_key" --of-saturation "$sat" --share 75 \
      --mode end-to-end --stage E --system production --service "$service"
    n=$((n + 1))
  done
fi
for b in "${e_builds[@]}"; do
  for role in worker api simulators; do p=${b}_$role; stop "${!p}"; done
done

step "E: end to end, rabt demo (one process, embedded)"
demo_builds=(demo)
[ -n "$baseline" ] && demo_builds+=(demob)
for b in "${demo_builds[@]}"; do
  bin=$rabt system=demo
  [ "$b" = demob ] && bin=$base_rabt system=demo$BASELINE
  port=$(free_port)
  # Its operators' listener on a free port too (a build from before it existed has none).
  ops=()
  "$bin" demo --help | grep -q -- --ops-listen && ops=(--ops-listen "127.0.0.1:$(free_port)")
  spawn "$b" "$bin" demo --listen "127.0.0.1:$port" "${ops[@]}" --state-dir "$dir/$b"
  declare -g "${b}_pid=$started" "${b}_base=http://127.0.0.1:$port" "${b}_system=$system" \
    "${b}_watch=--watch demo=$started"
  wait_http 60 "$started" "http://127.0.0.1:$port/readyz"
  declare -g "${b}_key=$(jq -r .api_key "$dir/$b/demo-credentials.json")"
  # The benchmark measures saturation: the demo cooperative's default rate limit (20/s)
  # is lifted, as for production (lib.sh); a build from before the limits has none.
  if "$bin" coop set-limit --help >/dev/null 2>&1; then
    key=${b}_key
    RABT_DATABASE_URL="sqlite://$dir/$b/rabt.db" RABT_LOG=warn "$bin" coop set-limit \
      "$(jq -r .cooperative_id "$dir/$b/demo-credentials.json")" --rate none --operator bench \
      >"$logs/$b-set-limit.log" 2>&1
    # The api process rereads a cooperative's limit within 2 s: until then its answers
    # carry the old RateLimit-Policy.
    deadline=$((SECONDS + 10))
    while curl -s -D - -o /dev/null -H "Authorization: Bearer ${!key}" \
        "http://127.0.0.1:$port/v1/services" | grep -qi '^ratelimit-policy'; do
      ((SECONDS < deadline)) || { echo "the demo kept its rate limit" >&2; exit 1; }
      sleep 0.2
    done
  fi
done
end_to_end 40 "${demo_builds[@]}"
if ((profile)); then
  # The demo's one process (API, worker, simulators, SQLite) on the composite, at 75 % of
  # its own saturation, as production's: the current build only.
  sat=$(ls "$results"/40-*-e-demo-saturation.json | tail -n 1)
  profile_run "E: demo $(jq -r .label.service "$sat") end to end at 75 % of its saturation" 4 - \
    "$(jq -r .label.service "$sat")" "demo=$demo_pid" -- \
    "$bench" rate --url "$demo_base/v1/requests" --key "$demo_key" --of-saturation "$sat" --share 75 \
    --mode end-to-end --stage E --system demo --service "$(jq -r .label.service "$sat")"
fi
for b in "${demo_builds[@]}"; do p=${b}_pid; stop "${!p}"; done

step "report"
includes=()
if ((profile)); then
  printf '## Where the database time goes (this run)\n\n' >"$dir/scratch/statements-0.md"
  for page in "$dir"/scratch/statements-*.md; do includes+=(--include "$page"); done
fi
((quick)) || includes+=(--include tests/bench/findings.md --include tests/bench/audit.md)
includes+=(--include tests/bench/method.md)
# The console's own benchmark (tests/bench/console.sh) is run apart; its figures are kept.
((quick)) || includes+=(--include tests/bench/console.md)
"$bench" report --results "$results" --meta "$dir/meta.tsv" "${includes[@]}" \
  --markdown "$out_md" --json "$out_json"
echo "    $out_md"
echo "    $out_json"
if ((quick)); then
  step "sanity (every stage has records, every request accepted or completed with PASS, no error)"
  "$bench" check --results "$results" "${smoke[@]}"
elif ! "$bench" check --results "$results"; then
  echo "    (the full run had errors or overloads: see the tables)"
fi
step "done in $((SECONDS - start))s"
