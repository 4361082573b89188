#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: one cluster in one directory, on a free
# loopback port, with its Unix socket in that directory too.
#
#   tests/pg/cluster.sh start DIR   initdb into DIR/data (if not there yet),
#                                   start the server, and print one line:
#                                   WHARF_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/postgres
#   tests/pg/cluster.sh stop DIR    stop the server started in DIR (fast
#                                   shutdown; bounded waits)
#   tests/pg/cluster.sh url DIR     print the line again for a running cluster
#
# PostgreSQL refuses to run as root: as root, its tools run as the
# `postgres` user (runuser) and DIR is given to that user; as anyone else,
# they run as that user. Exit status: 0 done, 1 failed, 2 usage,
# 3 PostgreSQL or the postgres user is missing (callers skip their tests).
#
# Environment:
#   WHARF_PG_BIN                  PostgreSQL's bin dir (default: the newest
#                                 /usr/lib/postgresql/*/bin)
#   WHARF_TEST_POSTGRES_SETTINGS  extra server settings, "name=value" words
#                                 (e.g. "fsync=off synchronous_commit=off")
set -uo pipefail

readonly WAIT_SECONDS=30  # every pg_ctl wait is bounded by this

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

missing() {
  echo "cluster.sh: $*" >&2
  exit 3
}

usage() {
  echo "usage: $0 start|stop|url DIR" >&2
  exit 2
}

find_bin() {
  if [[ -n "${WHARF_PG_BIN:-}" ]]; then
    echo "$WHARF_PG_BIN"
    return
  fi
  local newest=""
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" ]] && newest="$dir"
  done
  echo "$newest"
}

# Runs a PostgreSQL tool as the user that may run the server.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A port nothing listens on now (the kernel's choice); the server binds it
# a moment later, and start() tries again if someone else got there first.
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

url_line() {
  echo "WHARF_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$1/postgres"
}

# The postmaster's PID when the cluster in $data is running, else nothing.
running_pid() {
  local data="$1" pid
  [[ -f "$data/postmaster.pid" ]] || return 0
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # Only our postmaster: alive, and its command line names this data dir.
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$data"; then
    echo "$pid"
  fi
}

prepare_dir() {
  local dir="$1"
  mkdir -p "$dir" || die "cannot create $dir"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || missing "no postgres user (install postgresql-15: scripts/install-deps.sh --tests)"
    chown postgres: "$dir" || die "cannot give $dir to the postgres user"
    runuser -u postgres -- test -w "$dir" ||
      die "the postgres user cannot write $dir (a parent directory it cannot enter?)"
  fi
  # The socket's path must fit in sun_path (107 bytes).
  ((${#dir} + 20 < 107)) || die "$dir is too long a path for PostgreSQL's Unix socket"
}

init_cluster() {
  local bin="$1" data="$2"
  [[ -f "$data/PG_VERSION" ]] && return 0
  as_pg "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-locale >"$data.initdb.log" 2>&1 ||
    die "initdb failed; see $data.initdb.log"
}

start() {
  local dir bin data pid port settings=()
  dir=$(realpath -m "$1")
  bin=$(find_bin)
  [[ -n "$bin" && -x "$bin/initdb" && -x "$bin/pg_ctl" ]] ||
    missing "PostgreSQL's initdb/pg_ctl not found (install postgresql-15: scripts/install-deps.sh --tests)"
  data="$dir/data"
  prepare_dir "$dir"
  pid=$(running_pid "$data")
  if [[ -n "$pid" ]]; then
    url_line "$(cat "$dir/port")"
    return 0
  fi
  init_cluster "$bin" "$data"
  for setting in ${WHARF_TEST_POSTGRES_SETTINGS:-}; do settings+=(-c "$setting"); done
  for attempt in 1 2 3; do
    port=$(free_port) || die "cannot pick a port"
    if as_pg "$bin/pg_ctl" -D "$data" -l "$dir/pg.log" -w -t "$WAIT_SECONDS" \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${settings[*]}" start >/dev/null; then
      echo "$port" >"$dir/port"
      url_line "$port"
      return 0
    fi
    # A server that did not come up may still be starting: stop it before
    # the next attempt, so that only one ever runs from this directory.
    stop_server "$bin" "$data"
    echo "cluster.sh: start attempt $attempt on port $port failed; see $dir/pg.log" >&2
  done
  die "PostgreSQL did not start; see $dir/pg.log"
}

# Fast shutdown, then (only if that did not end it) SIGQUIT, then SIGKILL,
# each to our own postmaster only, each wait bounded.
stop_server() {
  local bin="$1" data="$2" pid
  pid=$(running_pid "$data")
  [[ -n "$pid" ]] || return 0
  if as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t "$WAIT_SECONDS" stop >/dev/null 2>&1; then
    # pg_ctl returns once the postmaster removed its PID file, a moment
    # before the process is gone: wait for that too (bounded).
    for _ in $(seq 100); do
      [[ -d "/proc/$pid" ]] || return 0
      sleep 0.05
    done
  fi
  for signal in QUIT KILL; do
    pid=$(running_pid "$data")
    [[ -n "$pid" ]] || return 0
    kill -s "$signal" "$pid" 2>/dev/null
    for _ in $(seq 50); do
      [[ -d "/proc/$pid" ]] || return 0
      sleep 0.1
    done
  done
  [[ -z "$(running_pid "$data")" ]] || die "the server in $data (PID $pid) did not stop"
}

stop() {
  local dir bin
  dir=$(realpath -m "$1")
  [[ -d "$dir/data" ]] || return 0
  bin=$(find_bin)
  [[ -n "$bin" ]] || missing "PostgreSQL's pg_ctl not found"
  stop_server "$bin" "$dir/data"
}

url() {
  local dir
  dir=$(realpath -m "$1")
  [[ -n "$(running_pid "$dir/data")" ]] || die "no server running in $dir"
  url_line "$(cat "$dir/port")"
}

[[ $# -eq 2 && -n "$2" ]] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  url) url "$2" ;;
  *) usage ;;
esac
