#!/bin/bash
# A PostgreSQL server from Debian's packages, for tests: a new cluster in a folder, on a loopback port.
#   postgres.sh start DIR      initdb + start; prints "port=PORT" (the superuser is "exhibit", password "exhibit")
#   postgres.sh stop DIR       stops it at once (by its PID)
#   postgres.sh createdb DIR NAME
#   postgres.sh psql DIR NAME SQL…   runs SQL in database NAME
# Run as root it runs the server as the "postgres" system user (initdb refuses root).
set -euo pipefail
command=$1
dir=$(realpath -m "$2")
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port() { cat "$dir/port"; }
export PGPASSWORD=exhibit

case "$command" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  echo exhibit > "$dir/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pwfile"
  as_owner "$bin/initdb" -D "$dir/data" -U exhibit --pwfile="$dir/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 > "$dir/initdb.log" 2>&1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "$port" > "$dir/port"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB" start > /dev/null
  echo "port=$port"
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] && kill -9 "$(head -1 "$dir/data/postmaster.pid")" 2>/dev/null || true
  # Its children (backends) go with it once the postmaster is gone; make sure.
  pkill -9 -f -- "-D $dir/data" 2>/dev/null || true
  ;;
pause)
  # Stops the server (a fault to survive): fast shutdown, connections dropped.
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null
  ;;
resume)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $(port) -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB" start > /dev/null
  ;;
createdb)
  "$bin/psql" -q -h 127.0.0.1 -p "$(port)" -U exhibit -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$3\"" > /dev/null
  ;;
psql)
  name=$3; shift 3
  "$bin/psql" -q -X -A -t -h 127.0.0.1 -p "$(port)" -U exhibit -d "$name" -v ON_ERROR_STOP=1 -c "$*"
  ;;
*)
  echo "usage: postgres.sh start|stop|pause|resume|createdb|psql DIR …" >&2
  exit 2
  ;;
esac
