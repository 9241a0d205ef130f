#!/usr/bin/env bash
# A local Omoi cluster: three nats-servers forming one JetStream cluster, one PostgreSQL
# (Omoi's embedded one, started on its own), and three `omoi start` nodes sharing them with
# OMOI_STREAM_REPLICAS=3. Everything lives in one directory; `stop` ends it cleanly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODES=3

usage() {
  cat <<EOF
Usage: scripts/cluster.sh start|stop|status [options]

  start    start three nats-servers (one JetStream cluster), one PostgreSQL and three Omoi
           nodes with the same DATABASE_URL and NATS_URL, OMOI_STREAM_REPLICAS=3
  stop     stop them: nodes first (SIGTERM, they drain), then NATS, then PostgreSQL
  status   say which of them are running

Options:
  --dir DIR          where data, logs and pid files live (default ./.omoi-cluster)
  --nats-port PORT   client port of the first nats-server; the others follow (default 14222);
                     cluster routes use PORT+100 and up
  --http-port PORT   HTTP port of the first node; the others follow (default 7071)
  --partitions N     OMOI_PARTITIONS of the cluster (default: \$OMOI_PARTITIONS, else 64)
  -h, --help         this help

Other OMOI_* settings in the environment (OMOI_SANDBOX, OMOI_LOG_LEVEL, ...) reach every node.

Examples:
  scripts/cluster.sh start
  OMOI_API_TOKEN=\$(cat .omoi-cluster/api-token) npx omoi status --url http://127.0.0.1:7071
  scripts/cluster.sh stop
EOF
}

say() { printf 'cluster: %s\n' "$*"; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

command=${1:-}
[ $# -gt 0 ] && shift
DIR=.omoi-cluster
NATS_PORT=
HTTP_PORT=
PARTITIONS=${OMOI_PARTITIONS:-}
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
    --nats-port) NATS_PORT=${2:?--nats-port needs a port}; shift 2 ;;
    --http-port) HTTP_PORT=${2:?--http-port needs a port}; shift 2 ;;
    --partitions) PARTITIONS=${2:?--partitions needs a number}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
case $command in
  -h|--help|help) usage; exit 0 ;;
  start|stop|status) ;;
  '') usage >&2; exit 2 ;;
  *) usage >&2; die "unknown command $command" ;;
esac

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
RUN=$DIR/run
LOGS=$DIR/logs
# The ports `start` used, so that `status` and `stop` need only --dir.
PORTS_FILE=$DIR/ports
if [ -f "$PORTS_FILE" ]; then
  saved_nats=$(sed -n 's/^nats=//p' "$PORTS_FILE")
  saved_http=$(sed -n 's/^http=//p' "$PORTS_FILE")
  NATS_PORT=${NATS_PORT:-$saved_nats}
  HTTP_PORT=${HTTP_PORT:-$saved_http}
fi
NATS_PORT=${NATS_PORT:-14222}
HTTP_PORT=${HTTP_PORT:-7071}
for n in "$NATS_PORT" "$HTTP_PORT" ${PARTITIONS:+"$PARTITIONS"}; do
  [[ $n =~ ^[0-9]+$ ]] || die "not a number: $n"
done

nats_port() { echo $((NATS_PORT + $1 - 1)); }
route_port() { echo $((NATS_PORT + 100 + $1 - 1)); }
http_port() { echo $((HTTP_PORT + $1 - 1)); }
nats_urls() {
  local i urls=()
  for i in $(seq 1 $NODES); do urls+=("nats://127.0.0.1:$(nats_port "$i")"); done
  (IFS=,; echo "${urls[*]}")
}

# The pid in run/<name>.pid if that process is still ours (its command line names `marker`):
# a stale file or a reused pid is not mistaken for a running part of the cluster.
running_pid() {
  local name=$1 marker=$2 pid
  [ -f "$RUN/$name.pid" ] || return 1
  pid=$(cat "$RUN/$name.pid")
  [ -r "/proc/$pid/cmdline" ] || return 1
  grep -q "State:.*Z" "/proc/$pid/status" 2>/dev/null && return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$marker" || return 1
  echo "$pid"
}

# Starts a detached process in its own session (a Ctrl-C in this terminal does not reach it),
# output to logs/<name>.log, pid to run/<name>.pid.
spawn() {
  local name=$1; shift
  setsid "$@" < /dev/null >> "$LOGS/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
}

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# Waits until `check` succeeds; fails with the log's tail if the process died or time ran out.
wait_for() {
  local what=$1 name=$2 marker=$3 timeout=$4; shift 4
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ! running_pid "$name" "$marker" > /dev/null; then
      tail -n 30 "$LOGS/$name.log" >&2 || true
      die "$name exited before $what (log: $LOGS/$name.log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOGS/$name.log" >&2 || true
      die "$name: no $what within ${timeout}s (log: $LOGS/$name.log)"
    fi
    sleep 0.2
  done
}

# SIGTERM to every named process at once, then wait; SIGKILL what is left after `grace` s.
stop_all() {
  local grace=$1 marker=$2; shift 2
  local name pid pids=() names=()
  for name in "$@"; do
    if pid=$(running_pid "$name" "$marker"); then
      kill -TERM "$pid" 2> /dev/null || true
      pids+=("$pid"); names+=("$name")
    fi
  done
  local deadline=$((SECONDS + grace)) i
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2> /dev/null && ! grep -q "State:.*Z" "/proc/${pids[$i]}/status" 2> /dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        say "${names[$i]} (pid ${pids[$i]}) did not stop within ${grace}s: SIGKILL"
        kill -KILL "${pids[$i]}" 2> /dev/null || true
        break
      fi
      sleep 0.2
    done
    say "stopped ${names[$i]} (pid ${pids[$i]})"
  done
  for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

node_names() { local i; for i in $(seq 1 $NODES); do echo "node-$i"; done; }
nats_names() { local i; for i in $(seq 1 $NODES); do echo "nats-$i"; done; }

do_stop() {
  # Nodes first: they drain their partitions and release their leases while NATS and
  # PostgreSQL are still there.
  # shellcheck disable=SC2046
  stop_all 60 omoi.mjs $(node_names)
  # shellcheck disable=SC2046
  stop_all 30 nats-server $(nats_names)
  stop_all 60 cluster-postgres postgres
}

do_status() {
  local name pid any=0 i
  for i in $(seq 1 $NODES); do
    if pid=$(running_pid "nats-$i" nats-server); then any=1; say "nats-$i    running (pid $pid) nats://127.0.0.1:$(nats_port "$i")"; else say "nats-$i    stopped"; fi
  done
  if pid=$(running_pid postgres cluster-postgres); then any=1; say "postgres  running (pid $pid)"; else say "postgres  stopped"; fi
  for i in $(seq 1 $NODES); do
    name=node-$i
    if pid=$(running_pid "$name" omoi.mjs); then any=1; say "$name    running (pid $pid) http://127.0.0.1:$(http_port "$i")"; else say "$name    stopped"; fi
  done
  if [ $any = 1 ] && [ -f "$DIR/api-token" ]; then
    say "cluster view: OMOI_API_TOKEN=\$(cat $DIR/api-token) npx omoi status --url http://127.0.0.1:$(http_port 1)"
  fi
}

do_start() {
  local binary name pid i
  binary=$(command -v nats-server || true)
  [ -n "$binary" ] || { [ -x /usr/sbin/nats-server ] && binary=/usr/sbin/nats-server; } || true
  [ -n "$binary" ] || die "nats-server is not installed: apt-get install nats-server (scripts/setup.sh installs it)"
  command -v node > /dev/null || die "node is not installed"
  for name in $(nats_names) postgres $(node_names); do
    if pid=$(running_pid "$name" "$(case $name in nats-*) echo nats-server ;; postgres) echo cluster-postgres ;; *) echo omoi.mjs ;; esac)"); then
      die "$name is already running (pid $pid) in $DIR: scripts/cluster.sh stop --dir $DIR first"
    fi
  done
  mkdir -p "$RUN" "$LOGS"
  printf 'nats=%s\nhttp=%s\n' "$NATS_PORT" "$HTTP_PORT" > "$PORTS_FILE"
  # Whatever was started is stopped again if the start fails half-way.
  trap 'say "start failed: stopping what was started"; do_stop > /dev/null 2>&1 || true' EXIT

  say "starting 3 nats-servers (JetStream cluster omoi-local) in $DIR"
  local routes=()
  for i in $(seq 1 $NODES); do routes+=("nats://127.0.0.1:$(route_port "$i")"); done
  for i in $(seq 1 $NODES); do
    name=nats-$i
    mkdir -p "$DIR/$name"
    # Omoi's ingress stream takes messages up to 2 MiB; the server's default limit is 1 MiB.
    printf 'max_payload: 8388608\n' > "$DIR/$name/server.conf"
    port_open "$(nats_port "$i")" && die "port $(nats_port "$i") is taken (use --nats-port)"
    spawn "$name" "$binary" -c "$DIR/$name/server.conf" -a 127.0.0.1 -p "$(nats_port "$i")" \
      --server_name "omoi-$name" --cluster_name omoi-local --cluster "nats://127.0.0.1:$(route_port "$i")" \
      --routes "$(IFS=,; echo "${routes[*]}")" -js -sd "$DIR/$name"
  done
  for i in $(seq 1 $NODES); do
    wait_for "client connections" "nats-$i" nats-server 30 port_open "$(nats_port "$i")"
    say "nats-$i ready: nats://127.0.0.1:$(nats_port "$i")"
  done

  say "starting PostgreSQL (embedded, data in ${OMOI_POSTGRES_DIR:-$DIR/postgres})"
  rm -f "$DIR/database-url"
  spawn postgres bash -c 'cd "$1" && exec node --import tsx scripts/cluster-postgres.ts "$2" "$3"' cluster-postgres "$ROOT" "$DIR/postgres" "$DIR/database-url"
  wait_for "a database URL" postgres cluster-postgres 180 test -s "$DIR/database-url"
  local database_url
  database_url=$(cat "$DIR/database-url")
  say "postgresql ready"

  # One token for the whole cluster: any node's API answers it.
  [ -s "$DIR/api-token" ] || (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$DIR/api-token")
  local token nats_url
  token=$(cat "$DIR/api-token")
  nats_url=$(nats_urls)
  say "starting $NODES nodes (NATS_URL=$nats_url, OMOI_STREAM_REPLICAS=3${PARTITIONS:+, OMOI_PARTITIONS=$PARTITIONS})"
  for i in $(seq 1 $NODES); do
    name=node-$i
    port_open "$(http_port "$i")" && die "port $(http_port "$i") is taken (use --http-port)"
    mkdir -p "$DIR/$name"
    spawn "$name" env DATABASE_URL="$database_url" NATS_URL="$nats_url" OMOI_STREAM_REPLICAS=3 \
      OMOI_DATA_DIR="$DIR/$name" OMOI_NODE_ID="$name" OMOI_HTTP_PORT="$(http_port "$i")" OMOI_API_TOKEN="$token" \
      ${PARTITIONS:+OMOI_PARTITIONS="$PARTITIONS"} node "$ROOT/bin/omoi.mjs" start
  done
  for i in $(seq 1 $NODES); do
    name=node-$i
    wait_for "start" "$name" omoi.mjs 240 grep -q "^omoi: node $name started" "$LOGS/$name.log"
    say "$name ready: http://127.0.0.1:$(http_port "$i")"
  done
  trap - EXIT

  cat <<EOF

Omoi cluster running in $DIR
  NATS_URL      $nats_url
  DATABASE_URL  in $DIR/database-url
  API token     in $DIR/api-token (the same for every node)
EOF
  for i in $(seq 1 $NODES); do
    printf '  node-%s        http://127.0.0.1:%s   (log %s)\n' "$i" "$(http_port "$i")" "$LOGS/node-$i.log"
  done
  cat <<EOF

  cluster view  OMOI_API_TOKEN=\$(cat $DIR/api-token) npx omoi status --url http://127.0.0.1:$(http_port 1)
  dashboard     http://127.0.0.1:$(http_port 1)/#token=$token
  stop          scripts/cluster.sh stop --dir $DIR
EOF
}

case $command in
  start) do_start ;;
  stop) do_stop; say "stopped" ;;
  status) do_status ;;
esac
