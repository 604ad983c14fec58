#!/usr/bin/env bash
# The cluster drill of docs/reliability.md: Rabt on the distributed engines it is run on,
# all on this machine's loopback —
#   - a 3-node RabbitMQ cluster (Debian's rabbitmq-server; one Erlang cookie, distinct
#     node names, ports and data), quorum queues with 3 replicas;
#   - PostgreSQL, a primary and a synchronous streaming standby managed by Patroni with
#     etcd, reached through HAProxy, which routes to whichever is primary (Debian's
#     patroni, etcd-server, haproxy; installed when missing);
#   - 2 api and 3 worker processes of `rabt serve`, and the simulators —
# and, under steady load, (1) SIGKILLs the RabbitMQ node that leads the task queues,
# (2) starts it again, (3) has Patroni switch the primary over, (4) SIGKILLs the primary.
# rabt-drill counts every accepted request (0 lost, 0 applied twice) and reports, per
# fault, the window in which submissions were refused or slowed. Everything is stopped
# by PID at the end.
#
#   tests/cluster.sh [--short] [rabt-drill arguments]
#       --short: the RabbitMQ cluster and one PostgreSQL only, and only the broker
#       node kill (tests/run.sh runs this; about 2 minutes once built)
#   tests/cluster.sh start DIR [--short] | stop DIR
#   tests/cluster.sh kill-queue-leader DIR | start-killed-node DIR | switchover DIR |
#                    kill-primary DIR          (the faults; rabt-drill calls them)
set -euo pipefail
cd "$(dirname "$0")/.."
RMQ_BIN=/usr/lib/rabbitmq/bin
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
log() { echo "cluster: $*" >&2; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.3
  done
}

install_ha() {
  local missing=()
  command -v patroni >/dev/null || missing+=(patroni)
  [ -x /usr/bin/etcd ] || missing+=(etcd-server)
  command -v haproxy >/dev/null || missing+=(haproxy)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian"
    # Their packages would start system services; these tests start their own.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; created=1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    if ((created)); then rm -f "$policy"; fi
  fi
}

# --- RabbitMQ: three nodes, one cookie ---------------------------------------------
node_env() {
  local dir=$1 n=$2
  export HOME="$dir/rmq"                       # one Erlang cookie for the three nodes
  export ERL_CRASH_DUMP="$dir/rmq/n$n/erl_crash.dump"
  export ERL_EPMD_PORT RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT
  ERL_EPMD_PORT=$(cat "$dir/rmq/epmd_port")
  RABBITMQ_NODE_PORT=$(cat "$dir/rmq/n$n/amqp_port")
  RABBITMQ_DIST_PORT=$(cat "$dir/rmq/n$n/dist_port")
  export RABBITMQ_NODENAME="$(cat "$dir/rmq/n$n/name")"
  export RABBITMQ_MNESIA_BASE="$dir/rmq/n$n/mnesia"
  export RABBITMQ_LOG_BASE="$dir/rmq/n$n/log"
  export RABBITMQ_PID_FILE="$dir/rmq/n$n/beam.pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/rmq/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$dir/rmq/n$n/rabbitmq"
}

ctl() { local dir=$1 n=$2; shift 2; (node_env "$dir" "$n"; "$RMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"); }

launch_node() {
  local dir=$1 n=$2
  (node_env "$dir" "$n"; "$RMQ_BIN/rabbitmq-server" >>"$dir/rmq/n$n/server.out" 2>&1 & echo $! >"$dir/rmq/n$n/wrapper.pid")
  local deadline=$((SECONDS + 120))
  until ctl "$dir" "$n" await_startup --timeout 60 >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "node $n did not start:"; tail -n 30 "$dir/rmq/n$n/server.out" >&2; return 1; fi
    sleep 0.5
  done
}

start_rabbitmq() {
  local dir=$1 tag n
  tag=$(basename "$dir" | tr -c 'a-zA-Z0-9_\n' '_')
  mkdir -p "$dir/rmq"
  free_port >"$dir/rmq/epmd_port"
  epmd -port "$(cat "$dir/rmq/epmd_port")" >"$dir/rmq/epmd.log" 2>&1 &
  echo $! >"$dir/rmq/epmd.pid"
  python3 -c 'import secrets; print(secrets.token_hex(20).upper(), end="")' >"$dir/rmq/.erlang.cookie"
  chmod 400 "$dir/rmq/.erlang.cookie"
  echo '[rabbitmq_management].' >"$dir/rmq/enabled_plugins"
  for n in 1 2 3; do
    mkdir -p "$dir/rmq/n$n/mnesia" "$dir/rmq/n$n/log"
    echo "rabt-c$n-$tag@localhost" >"$dir/rmq/n$n/name"
    for p in amqp_port dist_port mgmt_port; do free_port >"$dir/rmq/n$n/$p"; done
    cat >"$dir/rmq/n$n/rabbitmq.conf" <<CONF
loopback_users = none
listeners.tcp.default = 127.0.0.1:$(cat "$dir/rmq/n$n/amqp_port")
management.tcp.port = $(cat "$dir/rmq/n$n/mgmt_port")
management.tcp.ip = 127.0.0.1
CONF
  done
  launch_node "$dir" 1
  for n in 2 3; do
    launch_node "$dir" "$n"
    ctl "$dir" "$n" stop_app >/dev/null
    ctl "$dir" "$n" join_cluster "$(cat "$dir/rmq/n1/name")" >/dev/null
    ctl "$dir" "$n" start_app >/dev/null
  done
  log "RabbitMQ cluster: $(ctl "$dir" 1 cluster_status --formatter json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))') nodes running"
}

amqp_urls() {
  local dir=$1
  for n in 1 2 3; do printf 'amqp://guest:guest@127.0.0.1:%s/%%2f\n' "$(cat "$dir/rmq/n$n/amqp_port")"; done | paste -sd, -
}

# The node leading most of Rabt's task queues (asked of a node that is up).
queue_leader() {
  local dir=$1 n
  for n in 1 2 3; do
    curl -sf -u guest:guest "http://127.0.0.1:$(cat "$dir/rmq/n$n/mgmt_port")/api/queues?columns=name,leader" 2>/dev/null && return 0
  done
  return 1
}

kill_queue_leader() {
  local dir=$1 leader n
  leader=$(queue_leader "$dir" | python3 -c '
import collections, json, sys
leaders = collections.Counter(q.get("leader") for q in json.load(sys.stdin) if q["name"].startswith("rabt.tasks."))
print(leaders.most_common(1)[0][0] if leaders else "")')
  for n in 1 2 3; do
    if [ "$(cat "$dir/rmq/n$n/name")" = "$leader" ]; then
      log "SIGKILL RabbitMQ node $n ($leader), leader of the task queues"
      kill -KILL "$(cat "$dir/rmq/n$n/beam.pid")"
      echo "$n" >"$dir/rmq/killed"
      return 0
    fi
  done
  log "no node leads the task queues (leaders: $leader)"; return 1
}

start_killed_node() {
  local dir=$1 n
  n=$(cat "$dir/rmq/killed")
  log "starting RabbitMQ node $n again"
  launch_node "$dir" "$n"
  rm -f "$dir/rmq/killed"
}

stop_rabbitmq() {
  local dir=$1 n pid
  for n in 1 2 3; do
    [ -f "$dir/rmq/n$n/beam.pid" ] || continue
    pid=$(cat "$dir/rmq/n$n/beam.pid" 2>/dev/null) || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for n in 1 2 3; do
    [ -f "$dir/rmq/n$n/beam.pid" ] || continue
    pid=$(cat "$dir/rmq/n$n/beam.pid" 2>/dev/null) || continue
    wait_for 30 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    [ -f "$dir/rmq/n$n/wrapper.pid" ] && kill -TERM "$(cat "$dir/rmq/n$n/wrapper.pid")" 2>/dev/null || true
  done
  [ -f "$dir/rmq/epmd.pid" ] && kill -TERM "$(cat "$dir/rmq/epmd.pid")" 2>/dev/null || true
}

# --- PostgreSQL: Patroni, etcd, HAProxy -----------------------------------------------
start_postgres_ha() {
  local dir=$1 n
  mkdir -p "$dir/pg"
  chown postgres:postgres "$dir/pg"
  for p in etcd_client etcd_peer haproxy; do free_port >"$dir/pg/$p"; done
  /usr/bin/etcd --name rabt --data-dir "$dir/pg/etcd" --enable-v2=true \
    --listen-client-urls "http://127.0.0.1:$(cat "$dir/pg/etcd_client")" \
    --advertise-client-urls "http://127.0.0.1:$(cat "$dir/pg/etcd_client")" \
    --listen-peer-urls "http://127.0.0.1:$(cat "$dir/pg/etcd_peer")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(cat "$dir/pg/etcd_peer")" \
    --initial-cluster "rabt=http://127.0.0.1:$(cat "$dir/pg/etcd_peer")" >"$dir/pg/etcd.log" 2>&1 &
  echo $! >"$dir/pg/etcd.pid"
  wait_for 30 curl -sf "http://127.0.0.1:$(cat "$dir/pg/etcd_client")/health"
  for n in 1 2; do
    free_port >"$dir/pg/pg$n.port"; free_port >"$dir/pg/rest$n.port"
    cat >"$dir/pg/pg$n.yml" <<YAML
scope: rabt-$(basename "$dir" | tr -c 'a-zA-Z0-9\n' '-')
name: pg$n
restapi:
  listen: 127.0.0.1:$(cat "$dir/pg/rest$n.port")
  connect_address: 127.0.0.1:$(cat "$dir/pg/rest$n.port")
etcd:
  host: 127.0.0.1:$(cat "$dir/pg/etcd_client")
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 5
    # A commit is acknowledged only once the standby has it, so a failover loses
    # nothing a cooperative was told was accepted.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 300
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 5
        max_replication_slots: 5
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - auth: trust
  pg_hba:
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$(cat "$dir/pg/pg$n.port")
  connect_address: 127.0.0.1:$(cat "$dir/pg/pg$n.port")
  data_dir: $dir/pg/data$n
  bin_dir: $PG_BIN
  pgpass: $dir/pg/pgpass$n
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters:
    unix_socket_directories: $dir/pg
YAML
    chown postgres:postgres "$dir/pg/pg$n.yml"
    # setpriv execs Patroni itself (runuser would stay its parent): the PID recorded is
    # Patroni's, so kill-primary really kills it.
    HOME="$dir/pg" setpriv --reuid=postgres --regid=postgres --init-groups \
      patroni "$dir/pg/pg$n.yml" >"$dir/pg/patroni$n.log" 2>&1 &
    echo $! >"$dir/pg/patroni$n.pid"
    # The first node bootstraps the cluster before the second clones it.
    if [ "$n" = 1 ]; then wait_for 90 curl -sf "http://127.0.0.1:$(cat "$dir/pg/rest1.port")/primary"; fi
  done
  wait_for 120 curl -sf "http://127.0.0.1:$(cat "$dir/pg/rest2.port")/replica"
  cat >"$dir/pg/haproxy.cfg" <<CFG
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    retries 2
listen primary
    bind 127.0.0.1:$(cat "$dir/pg/haproxy")
    # Patroni's REST API answers 200 on /primary only on the leader.
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
    server pg1 127.0.0.1:$(cat "$dir/pg/pg1.port") check port $(cat "$dir/pg/rest1.port")
    server pg2 127.0.0.1:$(cat "$dir/pg/pg2.port") check port $(cat "$dir/pg/rest2.port")
CFG
  haproxy -f "$dir/pg/haproxy.cfg" -db >"$dir/pg/haproxy.log" 2>&1 &
  echo $! >"$dir/pg/haproxy.pid"
  # HAProxy counts servers up until their checks fail: wait until it routes to the
  # primary alone (every probe of a few lands there).
  local url="postgres://postgres@127.0.0.1:$(cat "$dir/pg/haproxy")/postgres"
  wait_for 60 bash -c "for i in 1 2 3 4; do [ \"\$($PG_BIN/psql -tAc 'select pg_is_in_recovery()' '$url')\" = f ] || exit 1; done"
  log "PostgreSQL: primary and synchronous standby under Patroni, HAProxy on 127.0.0.1:$(cat "$dir/pg/haproxy")"
}

primary_node() {
  local dir=$1 n
  for n in 1 2; do
    if curl -sf -o /dev/null "http://127.0.0.1:$(cat "$dir/pg/rest$n.port")/primary"; then echo "$n"; return 0; fi
  done
  return 1
}

switchover() {
  local dir=$1 from to
  from=$(primary_node "$dir"); to=$((3 - from))
  log "Patroni switchover pg$from -> pg$to"
  runuser -u postgres -- patronictl -c "$dir/pg/pg$from.yml" switchover --leader "pg$from" --candidate "pg$to" --force >&2
  wait_for 60 curl -sf "http://127.0.0.1:$(cat "$dir/pg/rest$to.port")/primary"
}

kill_primary() {
  local dir=$1 n
  n=$(primary_node "$dir")
  log "SIGKILL the primary pg$n (Patroni and PostgreSQL)"
  kill -KILL "$(cat "$dir/pg/patroni$n.pid")" 2>/dev/null || true
  kill -KILL "$(head -n 1 "$dir/pg/data$n/postmaster.pid")" 2>/dev/null || true
  wait_for 90 curl -sf "http://127.0.0.1:$(cat "$dir/pg/rest$((3 - n)).port")/primary"
  log "pg$((3 - n)) is primary"
}

stop_postgres_ha() {
  local dir=$1 n
  for n in 1 2; do
    [ -f "$dir/pg/patroni$n.pid" ] && kill -TERM "$(cat "$dir/pg/patroni$n.pid")" 2>/dev/null || true
  done
  for n in 1 2; do
    [ -f "$dir/pg/patroni$n.pid" ] && { wait_for 30 bash -c "! kill -0 $(cat "$dir/pg/patroni$n.pid")" || kill -KILL "$(cat "$dir/pg/patroni$n.pid")" 2>/dev/null || true; }
    [ -f "$dir/pg/data$n/postmaster.pid" ] && kill -TERM "$(head -n 1 "$dir/pg/data$n/postmaster.pid")" 2>/dev/null || true
  done
  for f in haproxy etcd; do [ -f "$dir/pg/$f.pid" ] && kill -TERM "$(cat "$dir/pg/$f.pid")" 2>/dev/null || true; done
}

start() {
  local dir=$1 short=$2
  mkdir -p "$dir"; chmod 755 "$dir"
  start_rabbitmq "$dir"
  if [ "$short" = 1 ]; then
    tests/services.sh start-postgres "$dir" >&2
    echo "export RABT_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$(cat "$dir/pg/port")/postgres'"
  else
    install_ha
    start_postgres_ha "$dir"
    echo "export RABT_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$(cat "$dir/pg/haproxy")/postgres'"
  fi
  echo "export RABT_CLUSTER_DIR='$dir'"
  echo "export RABT_TEST_AMQP_URL='amqp://guest:guest@127.0.0.1:$(cat "$dir/rmq/n1/amqp_port")/%2f'"
  echo "export RABT_TEST_AMQP_URLS='$(amqp_urls "$dir")'"
  echo "export RABT_TEST_RABBITMQ_API='http://guest:guest@127.0.0.1:$(cat "$dir/rmq/n1/mgmt_port")/api'"
}

stop() {
  local dir=$1
  stop_rabbitmq "$dir"
  if [ -f "$dir/pg/haproxy.pid" ] || [ -f "$dir/pg/etcd.pid" ]; then stop_postgres_ha "$dir"; fi
  if [ -f "$dir/pg/data/postmaster.pid" ]; then tests/services.sh stop-postgres "$dir" || true; fi
  log "stopped the cluster in $dir"
}

case "${1:-}" in
  start) start "${2:?usage: cluster.sh start DIR [--short]}" "$([ "${3:-}" = --short ] && echo 1 || echo 0)" ;;
  stop) stop "${2:?usage: cluster.sh stop DIR}" ;;
  kill-queue-leader) kill_queue_leader "${2:?DIR}" ;;
  start-killed-node) start_killed_node "${2:?DIR}" ;;
  switchover) switchover "${2:?DIR}" ;;
  kill-primary) kill_primary "${2:?DIR}" ;;
  *)
    short=0
    if [ "${1:-}" = --short ]; then short=1; shift; fi
    tests/services.sh install
    cargo build --locked -p rabt -p rabt-tests --bins
    dir=$(mktemp -d /tmp/rabt-cluster.XXXXXX)
    # Stopped by PID whatever happens; its folder (data of 5 servers, ~300 MB) removed
    # after a drill that held, kept with its logs after one that did not.
    held=0
    trap 'tests/cluster.sh stop "$dir" || true; if ((held)); then rm -rf "$dir"; else echo "cluster: logs kept in $dir" >&2; fi' EXIT
    start "$dir" "$short" >"$dir/exports.sh"
    source "$dir/exports.sh"
    export RABT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rabt"
    if [ "$short" = 1 ]; then
      faults=broker-node-kill,broker-node-back; rate=8; quiet=8
    else
      faults=broker-node-kill,broker-node-back,switchover,primary-kill; rate=10; quiet=20
    fi
    "${CARGO_TARGET_DIR:-$PWD/target}/debug/rabt-drill" --workers 3 --quorum-size 3 \
      --rate "$rate" --quiet "$quiet" --faults "$faults" "$@"
    held=1
    ;;
esac
