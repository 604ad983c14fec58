#!/usr/bin/env bash
# Starts and stops the real services Rabt's tests run against: a private PostgreSQL
# cluster and a private RabbitMQ node, each on its own free ports with its own data
# directory under one temporary folder, stopped by PID (never by process name).
#
#   tests/services.sh start [DIR]   start both; prints `export VAR=...` lines for eval
#                                   (a DIR of an earlier start: what runs there is
#                                   used, what was stopped is started again)
#   tests/services.sh stop DIR      stop what `start` started in DIR
#   tests/services.sh restart-rabbitmq DIR   stop and start the broker, same data
#   tests/services.sh stop-rabbitmq DIR      stop the broker only (an outage)
#   tests/services.sh start-rabbitmq DIR     start it again after stop-rabbitmq
#   tests/services.sh start-postgres DIR     PostgreSQL alone: a new cluster in DIR, or
#                                            the one stopped there before (same data
#                                            and port)
#   tests/services.sh stop-postgres DIR      stop PostgreSQL (connections cut: an outage)
#   tests/services.sh install       apt-get install RabbitMQ, PostgreSQL, chromium,
#                                   fonts-noto-core and prometheus when missing
#
# The exported variables:
#   RABT_TEST_DATABASE_URL      postgres://postgres@127.0.0.1:<port>/postgres
#   RABT_TEST_AMQP_URL          amqp://guest:guest@127.0.0.1:<port>/%2f
#   RABT_TEST_RABBITMQ_API      http://guest:guest@127.0.0.1:<port>/api (management API)
#   RABT_TEST_SERVICES_DIR      the folder holding data, logs and PID files
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
RMQ_BIN=/usr/lib/rabbitmq/bin

log() { echo "services: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until `cmd` succeeds or `seconds` pass.
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.2
  done
}

install() {
  local missing=()
  [ -x "$RMQ_BIN/rabbitmq-server" ] || missing+=(rabbitmq-server)
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || missing+=(postgresql)
  # promtool checks /metrics in the conformance test (the server is not started).
  command -v promtool >/dev/null || missing+=(prometheus)
  # The console's browser test drives Debian's chromium (Playwright cannot download
  # browsers here); Noto's fonts make Arabic render in it and in its screenshots.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -d /usr/share/fonts/truetype/noto ] || missing+=(fonts-noto-core)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
}

start_postgres() {
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir/pg"
  chown postgres:postgres "$dir/pg"
  if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/pg/data" -U postgres -A trust --no-sync >"$dir/pg/initdb.log" 2>&1; then
    log "initdb failed in $dir/pg/data; its log:"; tail -n 20 "$dir/pg/initdb.log" >&2; exit 1
  fi
  echo "$port" >"$dir/pg/port"
  launch_postgres "$dir"
}

# Starts the cluster in $dir/pg/data on its port (a new one, or one stopped before).
launch_postgres() {
  local dir=$1 port
  port=$(cat "$dir/pg/port")
  # fsync off: these clusters hold throwaway test data and never measure durability.
  if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >&2; then
    log "PostgreSQL did not start in $dir/pg/data on port $port; its log:"
    tail -n 20 "$dir/pg/server.log" >&2
    exit 1
  fi
  log "PostgreSQL on 127.0.0.1:$port (pid $(head -n 1 "$dir/pg/data/postmaster.pid"))"
}

# Stops the cluster in $dir as a crash would look to clients: every connection cut.
stop_postgres() {
  local dir=$1
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >&2
  fi
}

rabbitmq_env() {
  local dir=$1
  export HOME="$dir/rmq"
  # Erlang writes erl_crash.dump into the working directory (the checkout) unless told.
  export ERL_CRASH_DUMP="$dir/rmq/erl_crash.dump"
  # Erlang node names allow letters, digits, '-' and '_' only.
  export RABBITMQ_NODENAME="rabt-test-$(basename "$dir" | tr -c 'a-zA-Z0-9_\n' '_')@localhost"
  export RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT ERL_EPMD_PORT
  RABBITMQ_NODE_PORT=$(cat "$dir/rmq/amqp_port")
  RABBITMQ_DIST_PORT=$(cat "$dir/rmq/dist_port")
  ERL_EPMD_PORT=$(cat "$dir/rmq/epmd_port")
  export RABBITMQ_MNESIA_BASE="$dir/rmq/mnesia"
  export RABBITMQ_LOG_BASE="$dir/rmq/log"
  export RABBITMQ_PID_FILE="$dir/rmq/beam.pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/rmq/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$dir/rmq/rabbitmq"
}

launch_rabbitmq() {
  local dir=$1
  (
    rabbitmq_env "$dir"
    "$RMQ_BIN/rabbitmq-server" >>"$dir/rmq/server.out" 2>&1 &
    echo $! >"$dir/rmq/wrapper.pid"
  )
  (
    rabbitmq_env "$dir"
    local wrapper deadline=$((SECONDS + 120))
    wrapper=$(cat "$dir/rmq/wrapper.pid")
    # await_startup fails at once while the node has not registered yet: retry it, and
    # give up at once if the node died.
    until "$RMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" await_startup --timeout 60 >/dev/null 2>&1; do
      if ! kill -0 "$wrapper" 2>/dev/null || ((SECONDS >= deadline)); then
        log "RabbitMQ did not start; its log:"; tail -n 40 "$dir/rmq/server.out" >&2; exit 1
      fi
      sleep 0.5
    done
  )
}

start_rabbitmq() {
  local dir=$1
  mkdir -p "$dir/rmq/mnesia" "$dir/rmq/log"
  free_port >"$dir/rmq/amqp_port"
  free_port >"$dir/rmq/dist_port"
  free_port >"$dir/rmq/epmd_port"
  free_port >"$dir/rmq/mgmt_port"
  # Our own epmd on our own port, so its PID is ours to stop.
  epmd -port "$(cat "$dir/rmq/epmd_port")" >"$dir/rmq/epmd.log" 2>&1 &
  echo $! >"$dir/rmq/epmd.pid"
  # The management plugin gives tests an HTTP API to create a vhost per test.
  echo '[rabbitmq_management].' >"$dir/rmq/enabled_plugins"
  cat >"$dir/rmq/rabbitmq.conf" <<CONF
loopback_users = none
listeners.tcp.default = 127.0.0.1:$(cat "$dir/rmq/amqp_port")
management.tcp.port = $(cat "$dir/rmq/mgmt_port")
management.tcp.ip = 127.0.0.1
CONF
  launch_rabbitmq "$dir"
  log "RabbitMQ on 127.0.0.1:$(cat "$dir/rmq/amqp_port") (pid $(cat "$dir/rmq/beam.pid"), management :$(cat "$dir/rmq/mgmt_port"))"
}

stop_rabbitmq_node() {
  local dir=$1 pid
  [ -f "$dir/rmq/beam.pid" ] || return 0
  pid=$(cat "$dir/rmq/beam.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 60 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/rmq/beam.pid"
}

# Whether the cluster in $dir/pg/data runs.
postgres_runs() {
  local dir=$1
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1
}

# `start DIR` where an earlier `start` left its services: those still running are
# used as they are, those stopped are started again with the same data and ports.
reuse() {
  local dir=$1
  if [ -f "$dir/pg/port" ] && [ -f "$dir/pg/data/PG_VERSION" ]; then
    if postgres_runs "$dir"; then
      log "PostgreSQL already runs in $dir (port $(cat "$dir/pg/port"))"
    else
      log "starting the PostgreSQL cluster stopped in $dir again"
      launch_postgres "$dir"
    fi
  else
    log "$dir holds an unfinished PostgreSQL cluster (no $dir/pg/port or PG_VERSION):" \
      "run 'tests/services.sh stop $dir', remove $dir and start again, or give another DIR"
    exit 1
  fi
  if [ -f "$dir/rmq/amqp_port" ] && [ -f "$dir/rmq/epmd_port" ] && [ -f "$dir/rmq/rabbitmq.conf" ]; then
    if [ -f "$dir/rmq/beam.pid" ] && kill -0 "$(cat "$dir/rmq/beam.pid")" 2>/dev/null; then
      log "RabbitMQ already runs in $dir (port $(cat "$dir/rmq/amqp_port"))"
    else
      log "starting the RabbitMQ node stopped in $dir again"
      if ! { [ -f "$dir/rmq/epmd.pid" ] && kill -0 "$(cat "$dir/rmq/epmd.pid")" 2>/dev/null; }; then
        epmd -port "$(cat "$dir/rmq/epmd_port")" >>"$dir/rmq/epmd.log" 2>&1 &
        echo $! >"$dir/rmq/epmd.pid"
      fi
      launch_rabbitmq "$dir"
      log "RabbitMQ on 127.0.0.1:$(cat "$dir/rmq/amqp_port") (pid $(cat "$dir/rmq/beam.pid"))"
    fi
  else
    log "no RabbitMQ node of an earlier start in $dir: starting one"
    start_rabbitmq "$dir"
  fi
}

print_env() {
  local dir=$1
  echo "export RABT_TEST_SERVICES_DIR='$dir'"
  echo "export RABT_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$(cat "$dir/pg/port")/postgres'"
  echo "export RABT_TEST_AMQP_URL='amqp://guest:guest@127.0.0.1:$(cat "$dir/rmq/amqp_port")/%2f'"
  echo "export RABT_TEST_RABBITMQ_API='http://guest:guest@127.0.0.1:$(cat "$dir/rmq/mgmt_port")/api'"
}

cmd=${1:-}
case "$cmd" in
  install)
    install
    ;;
  start)
    install
    dir=${2:-$(mktemp -d /tmp/rabt-services.XXXXXX)}
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ -e "$dir/pg" ]; then
      reuse "$dir"
    else
      start_postgres "$dir"
      start_rabbitmq "$dir"
    fi
    print_env "$dir" | tee "$dir/env.sh"
    ;;
  stop)
    dir=${2:?usage: services.sh stop DIR}
    stop_rabbitmq_node "$dir"
    if [ -f "$dir/rmq/wrapper.pid" ]; then kill -TERM "$(cat "$dir/rmq/wrapper.pid")" 2>/dev/null || true; fi
    if [ -f "$dir/rmq/epmd.pid" ]; then kill -TERM "$(cat "$dir/rmq/epmd.pid")" 2>/dev/null || true; fi
    if [ -f "$dir/pg/data/postmaster.pid" ]; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m fast -w stop >&2 || true
    fi
    log "stopped services in $dir"
    ;;
  restart-rabbitmq)
    dir=${2:?usage: services.sh restart-rabbitmq DIR}
    stop_rabbitmq_node "$dir"
    launch_rabbitmq "$dir"
    log "RabbitMQ restarted (pid $(cat "$dir/rmq/beam.pid"))"
    ;;
  stop-postgres)
    dir=${2:?usage: services.sh stop-postgres DIR}
    stop_postgres "$dir"
    log "PostgreSQL stopped"
    ;;
  start-postgres)
    dir=${2:?usage: services.sh start-postgres DIR}
    if [ -f "$dir/pg/port" ] && [ -d "$dir/pg/data" ]; then
      # Stopped here before (an outage in a drill): the same data on the same port.
      launch_postgres "$dir"
    else
      install
      mkdir -p "$dir"; chmod 755 "$dir"
      start_postgres "$dir"
    fi
    ;;
  stop-rabbitmq)
    dir=${2:?usage: services.sh stop-rabbitmq DIR}
    stop_rabbitmq_node "$dir"
    log "RabbitMQ stopped"
    ;;
  start-rabbitmq)
    dir=${2:?usage: services.sh start-rabbitmq DIR}
    launch_rabbitmq "$dir"
    log "RabbitMQ started (pid $(cat "$dir/rmq/beam.pid"))"
    ;;
  *)
    sed -n '2,24p' "$0" >&2
    exit 2
    ;;
esac
