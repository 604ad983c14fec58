# Functions of tests/bench/run.sh (sourced by it; uses its variables: dir, logs,
# results, scratch, rabt, bench, quick, secs, warmup, shares, services_list, ...).

# PostgreSQL as production runs it: tests/services.sh starts it with fsync=off (test
# data is throwaway), which would flatter every commit; restart it durable unless asked,
# with pg_stat_statements loaded so the profiled runs can say which statements cost.
pg_durability() {
  local services=$1 fsync=$2 pg_bin port
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  port=$(cat "$services/pg/port")
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$services/pg/data" -m fast -w stop >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$services/pg/data" -l "$services/pg/server.log" \
    -w -t 60 -o "-p $port -k $services/pg -c listen_addresses=127.0.0.1 -c max_connections=300 \
    -c fsync=$fsync -c shared_preload_libraries=pg_stat_statements -c track_wal_io_timing=on" \
    start >/dev/null
  # In template1, so every database created afterwards has the view.
  psql "${RABT_TEST_DATABASE_URL%/postgres}/template1" -qc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
  meta Run "PostgreSQL durability" "fsync=$(psql "$RABT_TEST_DATABASE_URL" -tAc 'SHOW fsync'), synchronous_commit=$(psql "$RABT_TEST_DATABASE_URL" -tAc 'SHOW synchronous_commit')"
}

# The machine, the versions and the run's settings, for the report.
describe_run() {
  local overview
  overview=$(curl -sf "$RABT_TEST_RABBITMQ_API/overview" || echo '{}')
  meta Machine "CPU" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) × $(nproc)"
  meta Machine "memory" "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  meta Machine "kernel" "$(uname -sr)"
  meta Machine "load average at start" "$(cut -d' ' -f1-3 /proc/loadavg) (shared with other work)"
  if [ -n "$rev" ]; then
    meta Versions "rabt" "$("$rabt" --version), commit $(git rev-parse --short "$rev") (--rev $rev)"
  else
    meta Versions "rabt" "$("$rabt" --version), working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates adapters || echo ' with uncommitted changes')"
  fi
  [ -z "$baseline" ] || meta Versions "baseline" "$("$base_rabt" --version), commit $(git rev-parse --short "$baseline") (--baseline $baseline), measured beside the current build"
  meta Versions "rustc" "$(rustc --version)"
  meta Versions "RabbitMQ" "$(jq -r '.rabbitmq_version // "?"' <<<"$overview") on Erlang $(jq -r '.erlang_version // "?"' <<<"$overview")"
  meta Versions "PostgreSQL" "$(psql "$RABT_TEST_DATABASE_URL" -tAc 'SHOW server_version')"
  meta Versions "wrk" "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
  meta Versions "Python" "$(python3 --version | cut -d' ' -f2)"
  meta Run "command" "tests/bench/run.sh$( ((quick)) && echo ' --quick')$( [ "$build" = debug ] && echo ' --debug')$( [ -n "$baseline" ] && echo " --baseline $baseline")"
  meta Run "build" "$build"
  meta Run "date" "$(date -u '+%Y-%m-%d %H:%M UTC')"
  meta Run "wrk" "$wrk_threads threads × $wrk_connections connections, ${wrk_secs}s after a ${wrk_warm}s warm-up"
  meta Run "fixed rates" "${shares[*]} % of saturation, ${secs}s each after a ${warmup}s warm-up"
  meta Run "L0" "$l0_messages messages × $l0_runs run(s), 1 KiB, window 1000, prefetch 200"
}

# deploy_rabt NAME BIN SYSTEM: a fresh database and vhost for one Rabt deployment of the
# build BIN, migrated, with a cooperative; sets rabt_env (every variable a rabt process
# of it needs), api_base, api_key, sim_base and rabt_db, and keeps them as NAME_env,
# NAME_base, NAME_key, NAME_sim, NAME_db, with NAME_system (the records' system label)
# and NAME_bin, for `on NAME …` and the stages that take turns between builds.
deploy_rabt() {
  local name=$1 bin=$2 system=$3 port vhost db pki
  vhost=rabt-$name pki=$dir/pki-$name
  psql "$RABT_TEST_DATABASE_URL" -qc "CREATE DATABASE rabt_$name"
  db=${RABT_TEST_DATABASE_URL%/postgres}/rabt_$name
  curl -sf -X PUT "$RABT_TEST_RABBITMQ_API/vhosts/$vhost"
  curl -sf -X PUT -H 'content-type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' "$RABT_TEST_RABBITMQ_API/permissions/$vhost/guest"
  port=$(free_port)
  api_base=http://127.0.0.1:$port
  sim_base=$(python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); base = s.getsockname()[1]; s.close()
    if base >= 60000: continue
    try:
        held = [socket.socket() for _ in range(6)]
        for i, h in enumerate(held): h.bind(("127.0.0.1", base + i))
        print(base); break
    except OSError: pass
    finally:
        for h in held: h.close()')
  rabt_env=(
    "RABT_DATABASE_URL=$db" "RABT_AMQP_URL=${RABT_TEST_AMQP_URL%/*}/$vhost"
    "RABT_LISTEN=127.0.0.1:$port" "RABT_OPS_LISTEN=127.0.0.1:$(free_port)"
    "RABT_SIMULATE_CALLBACK_URL=$api_base" "RABT_SIMULATE_PKI_DIR=$pki"
    "RABT_AGENCY_CHAMBERS_CLIENT_CERT_FILE=$pki/client.pem"
    "RABT_AGENCY_CHAMBERS_CLIENT_KEY_FILE=$pki/client-key.pem"
    "RABT_AGENCY_CHAMBERS_SERVER_CA_FILE=$pki/server-ca.pem"
    "RABT_AGENCY_INTERIOR_URL=http://127.0.0.1:$sim_base"
    "RABT_AGENCY_HEALTH_URL=http://127.0.0.1:$((sim_base + 1))"
    "RABT_AGENCY_LABOR_URL=http://127.0.0.1:$((sim_base + 2))"
    "RABT_AGENCY_MUNICIPAL_URL=http://127.0.0.1:$((sim_base + 3))"
    "RABT_AGENCY_CHAMBERS_URL=https://127.0.0.1:$((sim_base + 4))"
    "RABT_AGENCY_SAUDI_POST_URL=http://127.0.0.1:$((sim_base + 5))"
    "RABT_AGENCY_INTERIOR_USER_NAME=rabt" "RABT_AGENCY_INTERIOR_APP_ID=rabt-bench"
    "RABT_AGENCY_INTERIOR_ORGANIZATION_NUMBER=7000000100" "RABT_AGENCY_LABOR_CLIENT_ID=rabt-bench"
    "RABT_AGENCY_MUNICIPAL_CALLBACK_SECRETS=whsec_$(head -c 32 /dev/urandom | base64)"
    "RABT_AGENCY_HEALTH_CALLBACK_SECRETS=whsec_$(head -c 32 /dev/urandom | base64)"
  )
  # The audit log's signing key and the personal-data key (rabt serve needs the latter).
  rabt_env+=(
    "RABT_PII_KEY=$("$rabt" audit pii-keygen)"
    "RABT_AUDIT_SIGNING_KEY=$("$rabt" audit keygen --name rabt-bench/audit | sed -n 's/^signing key: *//p')"
  )
  for v in INTERIOR_PASSWORD INTERIOR_CHARGE_CODE INTERIOR_APP_KEY INTERIOR_SERVICE_KEY \
           LABOR_CLIENT_SECRET HEALTH_API_KEY MUNICIPAL_API_KEY CHAMBERS_API_KEY SAUDI_POST_API_KEY; do
    rabt_env+=("RABT_AGENCY_$v=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')")
  done
  rabt_db=$db
  env "${rabt_env[@]}" "$bin" migrate >"$logs/$name-migrate.log" 2>&1
  local added
  added=$(env "${rabt_env[@]}" RABT_LOG=warn "$bin" coop add --name "Bench Cooperative" \
    --unified-number 7000000001 --services post.address.verify,cooperative.establishment.check)
  api_key=$(sed -n 's/^api key: *//p' <<<"$added")
  coop_id=$(sed -n 's/^cooperative: *//p' <<<"$added")
  [ -n "$api_key" ] || { echo "rabt coop add printed no API key" >&2; return 1; }
  # The benchmark measures the gateway at saturation: its cooperative has no rate limit
  # (the default of [cooperatives] would cap it at 20/s). A build from before the
  # limits (a baseline --rev) has neither.
  if env "${rabt_env[@]}" "$bin" coop set-limit --help >/dev/null 2>&1; then
    env "${rabt_env[@]}" RABT_LOG=warn "$bin" coop set-limit "$coop_id" --rate none \
      --operator bench >"$logs/$name-set-limit.log" 2>&1
  fi
  export BENCH_API_KEY=$api_key
  declare -g -a "${name}_env=()"
  local -n kept_env=${name}_env
  kept_env=("${rabt_env[@]}")
  declare -g "${name}_base=$api_base" "${name}_key=$api_key" "${name}_sim=$sim_base" \
    "${name}_db=$db" "${name}_system=$system" "${name}_bin=$bin" "${name}_watch="
}

# on NAME saturate STAGE OUT [ARGS…] | on NAME rate ARGS…: a measurement of the kept
# deployment NAME (see deploy_rabt): its URL, key and system label, with its processes
# (NAME_watch, `--watch name=pid …`) and the broker and database watched.
on() {
  local name=$1 what=$2 watches=(); shift 2
  local base=${name}_base key=${name}_key system=${name}_system watch=${name}_watch
  read -ra watches <<<"${!watch}"
  case "$what" in
    saturate)
      local stage=$1 out=$2; shift 2
      BENCH_API_KEY=${!key} saturate "${!base}/v1/requests" "$stage" "${!system}" "$out" \
        "$@" "${watches[@]}" "${infra[@]}" ;;
    rate)
      "$bench" rate --url "${!base}/v1/requests" --key "${!key}" --system "${!system}" \
        "$@" "${watches[@]}" "${infra[@]}" ;;
    *) echo "on: unknown measurement $what" >&2; return 2 ;;
  esac
}

# start_simulators NAME: the kept deployment's build serves `rabt simulate` on its
# NAME_sim..+5, all knobs at rest (zero added latency); sets sim_pid.
start_simulators() {
  local name=$1
  local -n env_of=${name}_env
  local bin=${name}_bin sim=${name}_sim
  spawn "$name-simulate" env "${env_of[@]}" "${!bin}" simulate --listen-base "${!sim}"
  sim_pid=$started
  wait_http 60 "$sim_pid" "http://127.0.0.1:$((${!sim} + 5))/_sim/stats"
  for offset in 0 1 2 3 5; do
    curl -sf -X PUT -H 'content-type: application/json' -d '{}' \
      "http://127.0.0.1:$((${!sim} + offset))/_sim/knobs" >/dev/null
  done
}

# start_pipeline NAME: the kept deployment's simulators, one api and one worker, from its
# build; sets NAME_simulators, NAME_api, NAME_worker and NAME_watch.
start_pipeline() {
  local name=$1
  local -n env_of=${name}_env
  local bin=${name}_bin
  start_simulators "$name"
  declare -g "${name}_simulators=$sim_pid"
  spawn "$name-api" env "${env_of[@]}" "${!bin}" serve --role api
  declare -g "${name}_api=$started"
  spawn "$name-worker" env "${env_of[@]}" "${!bin}" serve --role worker
  declare -g "${name}_worker=$started"
  local api=${name}_api
  declare -g "${name}_watch=--watch api=${!api} --watch worker=$started --watch simulators=$sim_pid"
}

# The peer in a venv under the run's folder, on a database and vhost of its own.
deploy_peer() {
  local venv=$dir/venv db port hash
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/bench/peer/requirements.txt
  meta Versions "peer" "$("$venv/bin/pip" freeze | grep -iE '^(fastapi|starlette|uvicorn|uvloop|httptools|aio-pika|aiormq|asyncpg|jsonschema)==' | tr '\n' ' ')"
  psql "$RABT_TEST_DATABASE_URL" -qc "CREATE DATABASE peer"
  db=${RABT_TEST_DATABASE_URL%/postgres}/peer
  psql "$db" -q -f tests/bench/peer/schema.sql
  curl -sf -X PUT "$RABT_TEST_RABBITMQ_API/vhosts/peer"
  curl -sf -X PUT -H 'content-type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' "$RABT_TEST_RABBITMQ_API/permissions/peer/guest"
  peer_key=rabt_$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
  hash=$(printf %s "$peer_key" | sha256sum | cut -d' ' -f1)
  psql "$db" -qc "INSERT INTO cooperatives VALUES ('coop_bench', 'Bench Cooperative', '{post.address.verify}', true);
                  INSERT INTO api_keys VALUES ('$hash', 'coop_bench', NULL)"
  export BENCH_API_KEY=$peer_key
  port=$(free_port)
  peer_base=http://127.0.0.1:$port
  # 2 workers for 2 cores, uvloop and httptools, no access log (Rabt logs one line per
  # accepted request; the peer is given the lighter setting).
  spawn peer env PEER_DATABASE_URL="$db" PEER_AMQP_URL="${RABT_TEST_AMQP_URL%/*}/peer" \
    PEER_SCHEMAS="$root/schemas" "$venv/bin/uvicorn" --app-dir tests/bench/peer app:app \
    --host 127.0.0.1 --port "$port" --workers 2 --loop uvloop --http httptools \
    --no-access-log --log-level warning
  peer_pid=$started
  wait_http 60 "$peer_pid" "$peer_base/healthz"
}

# saturate URL STAGE SYSTEM OUT [ARGS…]: wrk, a warm-up (not recorded), then the measured
# saturation run; ARGS may name the service (default post.address.verify), ask for
# `--prefer-wait N` and add watches.
saturate() {
  local url=$1 stage=$2 system=$3 out=$4; shift 4
  local service=(--service post.address.verify)
  [[ " $* " == *" --service "* ]] && service=()
  local common=(--url "$url" --script tests/bench/wrk-post.lua --threads "$wrk_threads"
    --connections "$wrk_connections" --work-dir "$dir/scratch" --stage "$stage" --system "$system"
    "${service[@]}" "$@")
  "$bench" saturate "${common[@]}" --duration "$wrk_warm" --out "$dir/scratch/warm-$stage.json" 2>/dev/null
  "$bench" saturate "${common[@]}" --duration "$wrk_secs" --out "$out"
}

# outbox_drained NAME: after G's saturation, how far behind the deployment's outbox relay
# was, and how long it took to publish the rest (G answers 202 once the outbox row is
# committed; P publishes inline).
outbox_drained() {
  local db=${1}_db left t0=$SECONDS deadline=$((SECONDS + 300))
  db=${!db}
  left=$(psql "$db" -tAc 'SELECT count(*) FROM outbox')
  until [ "$(psql "$db" -tAc 'SELECT count(*) FROM outbox')" = 0 ]; do
    ((SECONDS < deadline)) || { echo "the outbox did not drain within 300s" >&2; return 1; }
    sleep 0.2
  done
  observe "G: outbox rows waiting when wrk stopped" "$left (all published $((SECONDS - t0))s later)"
}

# check_stored NAME: every request G answered 202 is in the deployment's database
# (sanity: accepted means stored).
check_stored() {
  local name=$1 db=${1}_db stored answered
  stored=$(psql "${!db}" -tAc 'SELECT count(*) FROM requests')
  answered=$(jq -s '[.[] | .figure | if .kind == "saturation" then .wrk.requests - .wrk.status_errors
    elif .kind == "rate" then .ok else 0 end] | add' "$results"/1[0-9]-"$name"-*.json)
  observe "G: requests stored / answered 202 in measured runs" "$stored / $answered (stored includes warm-ups)"
  ((stored >= answered)) || { echo "fewer requests stored than accepted" >&2; return 1; }
}

# end_to_end ORDER NAME…: for each service, the end-to-end saturation of each kept
# deployment NAME (see deploy_rabt; wrk with `Prefer: wait=30`: verdicts per second), then
# fixed rates at shares of the first one's (what it sustains) and, in the full run, of
# G's (what the issue asks: where the pipeline cannot keep up, the run says so). Every
# deployment is offered the same rates, the first's (the current build's), and they take
# turns at every measurement.
end_to_end() {
  local order=$1 n=0 sat_n service name basis share of warm bases=(E); shift
  ((quick)) || bases+=(G)
  for service in "${services_list[@]}"; do
    sat_n=$(printf %02d $n)
    n=$((n + 1))
    for name in "$@"; do
      on "$name" saturate E "$results/$order-$sat_n-e-$name-saturation.json" \
        --prefer-wait 30 --service "$service"
    done
    for basis in "${bases[@]}"; do
      for share in "${shares[@]}"; do
        for name in "$@"; do
          of=$results/$order-$sat_n-e-$1-saturation.json warm=$warmup
          # At G's rates the pipeline may fall behind at once: no warm-up, or the
          # overload guard would stop the run before anything is measured.
          [ "$basis" = G ] && of=$g_sat warm=0
          on "$name" rate --of-saturation "$of" --share "$share" --basis "$basis" \
            --duration "$secs" --warmup "$warm" --mode end-to-end --max-in-flight 500 \
            "${fallback[@]}" --stage E --service "$service" \
            --out "$results/$order-$(printf %02d $n)-e-$name.json"
        done
        n=$((n + 1))
      done
    done
  done
}

# profile_run WORKLOAD ORDER DB SERVICE NAME=PID... -- LOAD...: while LOAD (a `rabt-bench
# rate` without --duration, --warmup and --out) runs for profile_secs, perf samples each
# process with call graphs and counts its context switches, and PostgreSQL counts the
# database's statements and WAL; each profile becomes a record, the statements a page
# and a record of the database's work per request (stage from WORKLOAD, SERVICE). DB `-`:
# no PostgreSQL (the demo, whose SQLite is inside its process): the profiles only, of
# system `demo`.
profile_run() {
  local workload=$1 order=$2 db=$3 service=$4 targets=() perf_pids=() t name pid load_out; shift 4
  local system=production
  [ "$db" = - ] && system=demo
  while [ "$1" != -- ]; do targets+=("$1"); shift; done
  shift
  load_out=$dir/scratch/profile-load-$order.json
  [ "$db" = - ] || psql "$db" -qtAc "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
  for t in "${targets[@]}"; do
    name=${t%%=*} pid=${t#*=}
    # DWARF call graphs: Rust release builds keep no frame pointers, but their unwind
    # tables let perf walk the stack. 199 Hz keeps the data and `perf report` small.
    perf record -e cpu-clock -F 199 --call-graph dwarf,16384 -p "$pid" \
      -o "$dir/scratch/perf-$name-$order.data" -- sleep "$profile_secs" >"$logs/perf-$name-$order.log" 2>&1 &
    perf_pids+=($!)
    perf stat -x, -e task-clock,context-switches,cpu-migrations -p "$pid" \
      -o "$dir/scratch/perf-stat-$name-$order.txt" -- sleep "$profile_secs" 2>/dev/null &
    perf_pids+=($!)
  done
  "$@" --duration "$profile_secs" --warmup 0 --out "$load_out" 2>/dev/null
  for p in "${perf_pids[@]}"; do wait "$p" || true; done
  if [ "$db" != - ]; then
    # PostgreSQL publishes a backend's WAL counters when it has been idle ~1 s.
    sleep 1.5
    top_statements "$db" "$(jq .figure.ok "$load_out")" "$workload" >"$dir/scratch/statements-$order.md"
    "$bench" database --requests "$(jq .figure.ok "$load_out")" \
      --statements "$db_statements" --transactions "$db_transactions" --wal-bytes "$db_wal_bytes" \
      --stage "${workload%%:*}" --system production --service "$service" \
      --out "$results/95$order-database.json"
  fi
  for t in "${targets[@]}"; do
    name=${t%%=*}
    # A debug build's inline frames take perf's addr2line many minutes to resolve
    # (CI's smoke run); a release profile keeps them, for attribution.
    local inline=()
    [ "${build:-release}" = debug ] && inline=(--no-inline)
    perf report -i "$dir/scratch/perf-$name-$order.data" --stdio --children --sort dso,sym -g none \
      "${inline[@]}" --percent-limit 0.3 >"$dir/scratch/perf-$name-$order.txt" 2>/dev/null
    "$bench" profile --report "$dir/scratch/perf-$name-$order.txt" --process "$name" \
      --workload "$workload" --counters "$dir/scratch/perf-stat-$name-$order.txt" --load "$load_out" \
      --stage "${workload%%:*}" --system "$system" --out "$results/9$order-profile-$name.json"
  done
}

# The database's work per request since the last reset, as markdown: statements and
# transactions, WAL, and the statements that took the most execution time.
top_statements() {
  local db=$1 requests=$2 workload=$3 n totals wal
  n=$(( requests > 0 ? requests : 1 ))
  totals=$(psql "$db" -qtA -F ' ' -c "
    SELECT round(sum(calls)::numeric / $n, 1),
           round(coalesce(sum(calls) FILTER (WHERE query ILIKE 'commit%'), 0)::numeric / $n, 1)
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
  wal=$(psql "$db" -qtA -F ' ' -c "
    SELECT round(wal_bytes / $n), round(wal_sync::numeric / $n, 2), round(wal_sync_time::numeric / $n, 3)
    FROM pg_stat_wal")
  echo "### Database — $workload"
  echo
  read -r statements commits <<<"$totals"
  read -r wal_bytes wal_syncs wal_ms <<<"$wal"
  # Also for profile_run's database record (a function with its output redirected still
  # runs in this shell, so these reach the caller).
  db_statements=$statements db_transactions=$commits db_wal_bytes=$wal_bytes
  echo "$requests requests answered. Per request: **$statements statements** (BEGIN and COMMIT"
  echo "included) in **$commits transactions**, $wal_bytes bytes of WAL, $wal_syncs WAL flushes"
  echo "($wal_ms ms of flushing). The statements that took the most execution time"
  echo "(pg_stat_statements; a COMMIT's WAL flush is not in its time):"
  echo
  echo "| calls per request | total ms | mean ms | statement |"
  echo "|---|---|---|---|"
  psql "$db" -qtA -F $'\t' -c "
    SELECT round(calls::numeric / $n, 2), round(total_exec_time::numeric, 0),
           round(mean_exec_time::numeric, 3), left(regexp_replace(query, '\\s+', ' ', 'g'), 160)
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY total_exec_time DESC LIMIT 12" |
    sed -e 's/|/\\|/g' -e 's/\t/ | /g' -e 's/^/| /' -e 's/$/ |/'
  echo
}
