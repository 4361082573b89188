#!/usr/bin/env bash
# A whole PostgreSQL group for Wharf on one machine: one etcd (v3 API) and
# three PostgreSQL 15 instances, each managed by its own Patroni agent, in
# synchronous mode, every port on 127.0.0.1, every file under DIR.
#
#   deploy/patroni-group.sh start DIR [--base-port N]
#       start etcd and the three agents (members pg0, pg1, pg2), wait until
#       there is a Leader and a Sync Standby and every member runs, then write
#       DIR/url (the multi-host URL Wharf takes as --postgres-url). Ports:
#       N etcd clients, N+1 etcd peers, N+2..N+4 PostgreSQL, N+5..N+7 the
#       Patroni REST APIs; without --base-port, free ports picked by the
#       kernel. DIR/ports.env records them. On a DIR that was started before
#       (and stopped), the same ports and data are used again.
#   deploy/patroni-group.sh stop DIR
#       stop everything start started (by the PIDs it recorded); idempotent
#   deploy/patroni-group.sh status DIR
#       patronictl list
#   deploy/patroni-group.sh leader DIR
#       one line: member=pg1 postmaster_pid=1234 agent_pid=1200 port=5433
#   deploy/patroni-group.sh ready DIR [--members N] [--timeout S]
#       wait until there is a Leader, a Sync Standby and N running members
#       (default 3; timeout 0: check once); exit 1 on timeout
#   deploy/patroni-group.sh kill-leader DIR
#       simulate a lost primary server: SIGKILL the leader's Patroni agent,
#       its postmaster and the postmaster's children at once; prints the
#       killed member's `leader` line
#   deploy/patroni-group.sh restart-member DIR NAME
#       start NAME's agent again after it was killed (it rejoins the group as
#       a standby, rewound with pg_rewind if it was the primary)
#
# As root, etcd, Patroni and PostgreSQL run as the `postgres` user and DIR is
# given to it. Exit status: 0 done, 1 failed, 2 usage, 3 a package is missing
# (patroni, etcd-server or postgresql-15; scripts/install-deps.sh --tests).
#
# Environment (defaults in brackets):
#   WHARF_PG_BIN            PostgreSQL's bin dir [/usr/lib/postgresql/15/bin]
#   WHARF_PATRONI_TTL, WHARF_PATRONI_LOOP_WAIT, WHARF_PATRONI_RETRY_TIMEOUT
#                           Patroni's timing [10, 2, 4]; see deploy/README.md
#   WHARF_GROUP_START_TIMEOUT  seconds start waits for the group [120]
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly MEMBERS=(pg0 pg1 pg2)
readonly PG_BIN="${WHARF_PG_BIN:-/usr/lib/postgresql/15/bin}"
readonly TTL="${WHARF_PATRONI_TTL:-10}"
readonly LOOP_WAIT="${WHARF_PATRONI_LOOP_WAIT:-2}"
readonly RETRY_TIMEOUT="${WHARF_PATRONI_RETRY_TIMEOUT:-4}"
readonly START_TIMEOUT="${WHARF_GROUP_START_TIMEOUT:-120}"
readonly STOP_TIMEOUT=30   # seconds an agent gets to stop PostgreSQL after SIGTERM

die() {
  echo "patroni-group.sh: $*" >&2
  exit 1
}

missing() {
  echo "patroni-group.sh: $*" >&2
  exit 3
}

usage() {
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# Runs a command as the user that may run PostgreSQL.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

alive() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null
}

read_pid() {
  [[ -f "$1" ]] && head -n 1 "$1" 2>/dev/null
}

# The postmaster's PID of member dir $1 when it runs, else nothing.
postmaster_pid() {
  local pid
  pid=$(read_pid "$1/data/postmaster.pid")
  alive "$pid" && echo "$pid"
}

check_packages() {
  command -v patroni >/dev/null || missing "patroni is not installed (Debian package patroni)"
  command -v patronictl >/dev/null || missing "patronictl is not installed (Debian package patroni)"
  command -v etcd >/dev/null || missing "etcd is not installed (Debian package etcd-server)"
  [[ -x "$PG_BIN/postgres" ]] || missing "no PostgreSQL in $PG_BIN (Debian package postgresql-15)"
  # Patroni runs on Debian's python3, whatever python3 is first on PATH
  /usr/bin/python3 -c 'import etcd' 2>/dev/null || missing "python3-etcd is not installed"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || missing "no postgres user (it comes with postgresql-15)"
  fi
}

# Picks the ports (or derives them from --base-port) once and records them.
choose_ports() {
  local dir="$1" base="$2" i
  if [[ -f "$dir/ports.env" ]]; then
    return
  fi
  {
    if [[ -n "$base" ]]; then
      echo "ETCD_CLIENT_PORT=$base"
      echo "ETCD_PEER_PORT=$((base + 1))"
      for i in 0 1 2; do echo "PG_PORT_$i=$((base + 2 + i))"; done
      for i in 0 1 2; do echo "API_PORT_$i=$((base + 5 + i))"; done
    else
      echo "ETCD_CLIENT_PORT=$(free_port)"
      echo "ETCD_PEER_PORT=$(free_port)"
      for i in 0 1 2; do echo "PG_PORT_$i=$(free_port)"; done
      for i in 0 1 2; do echo "API_PORT_$i=$(free_port)"; done
    fi
  } >"$dir/ports.env"
}

load_ports() {
  [[ -f "$1/ports.env" ]] || die "$1 holds no group (no ports.env): run start first"
  # shellcheck disable=SC1091
  source "$1/ports.env"
}

pg_port() {
  local v="PG_PORT_$1"
  echo "${!v}"
}

api_port() {
  local v="API_PORT_$1"
  echo "${!v}"
}

# Starts a daemon as the postgres user, detached, with its output appended to
# $2; it writes its own PID (not runuser's) to $1 before it execs.
launch() {
  local pidfile="$1" log="$2"
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
  # (the whole subshell redirected: a caller reading our output must not
  # wait for the daemon's end)
  (as_pg setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@") </dev/null >>"$log" 2>&1 &
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.05
  done
  die "$* did not start (no $pidfile); log tail:"$'\n'"$(tail -n 20 "$log")"
}

# A JSON view of the group from the first Patroni REST API that answers
# (GET /cluster: every member's name, role, state), or nothing.
cluster_json() {
  python3 - "$API_PORT_0" "$API_PORT_1" "$API_PORT_2" <<'EOF'
import sys, urllib.request
for port in sys.argv[1:]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cluster", timeout=1) as r:
            print(r.read().decode())
            break
    except Exception:
        pass
EOF
}

# Exit 0 when the JSON on stdin shows a leader, a sync standby and at least
# $1 members that run, each confirmed by its own REST API (GET /health: 200
# while its PostgreSQL runs): the view in etcd keeps a lost member until its
# key expires.
group_ready() {
  python3 -c '
import json, sys, urllib.request
try:
    members = json.loads(sys.stdin.read() or "{}").get("members", [])
except ValueError:
    sys.exit(1)
def up(m):
    try:
        with urllib.request.urlopen(m["api_url"].rsplit("/", 1)[0] + "/health", timeout=1) as r:
            return r.status == 200
    except Exception:
        return False
up = [m for m in members if m.get("state") in ("running", "streaming") and up(m)]
roles = {m.get("role") for m in up}
sys.exit(0 if "leader" in roles and "sync_standby" in roles and len(up) >= int(sys.argv[1]) else 1)
' "$1"
}

wait_ready() {
  local dir="$1" want="$2" timeout="$3" end
  end=$((SECONDS + timeout))
  while :; do
    cluster_json | group_ready "$want" && return 0
    ((SECONDS >= end)) && return 1
    sleep 0.5
  done
}

log_tails() {
  local dir="$1" m
  echo "--- etcd.log (tail)"
  tail -n 15 "$dir/etcd.log" 2>/dev/null
  for m in "${MEMBERS[@]}"; do
    echo "--- $m/patroni.log (tail)"
    tail -n 25 "$dir/$m/patroni.log" 2>/dev/null
  done
}

write_member_config() {
  local dir="$1" i="$2" m="${MEMBERS[$2]}"
  local mdir="$dir/$m"
  sed -e "s|@SCOPE@|wharf|g" -e "s|@NAME@|$m|g" \
    -e "s|@API_PORT@|$(api_port "$i")|g" -e "s|@PG_PORT@|$(pg_port "$i")|g" \
    -e "s|@ETCD_HOSTS@|127.0.0.1:$ETCD_CLIENT_PORT|g" \
    -e "s|@TTL@|$TTL|g" -e "s|@LOOP_WAIT@|$LOOP_WAIT|g" -e "s|@RETRY_TIMEOUT@|$RETRY_TIMEOUT|g" \
    -e "s|@DATA_DIR@|$mdir/data|g" -e "s|@MEMBER_DIR@|$mdir|g" -e "s|@SOCK_DIR@|$mdir|g" \
    -e "s|@BIN_DIR@|$PG_BIN|g" "$HERE/patroni.yml.in" >"$mdir/patroni.yml"
}

start_etcd() {
  local dir="$1"
  alive "$(read_pid "$dir/etcd.pid")" && return 0
  local client="http://127.0.0.1:$ETCD_CLIENT_PORT" peer="http://127.0.0.1:$ETCD_PEER_PORT"
  launch "$dir/etcd.pid" "$dir/etcd.log" etcd --name etcd0 --data-dir "$dir/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "etcd0=$peer" --initial-cluster-state new \
    --initial-cluster-token "wharf-$ETCD_PEER_PORT"
  local i
  for ((i = 0; i < 200; i++)); do
    python3 -c 'import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1).read()' \
      "$ETCD_CLIENT_PORT" 2>/dev/null && return 0
    alive "$(read_pid "$dir/etcd.pid")" || break
    sleep 0.1
  done
  die "etcd did not become healthy; log tail:"$'\n'"$(tail -n 20 "$dir/etcd.log")"
}

start_member() {
  local dir="$1" i="$2" m="${MEMBERS[$2]}"
  alive "$(read_pid "$dir/$m/patroni.pid")" && return 0
  launch "$dir/$m/patroni.pid" "$dir/$m/patroni.log" patroni "$dir/$m/patroni.yml"
}

cmd_start() {
  local dir="$1" base="$2" i
  check_packages
  mkdir -p "$dir" || die "cannot create $dir"
  dir="$(cd "$dir" && pwd)"
  choose_ports "$dir" "$base"
  load_ports "$dir"
  for i in 0 1 2; do
    mkdir -p "$dir/${MEMBERS[$i]}"
    write_member_config "$dir" "$i"
  done
  chmod 0755 "$dir"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$dir"
  start_etcd "$dir"
  for i in 0 1 2; do start_member "$dir" "$i"; done
  if ! wait_ready "$dir" 3 "$START_TIMEOUT"; then
    {
      echo "patroni-group.sh: no Leader with a Sync Standby and 3 running members after" \
        "${START_TIMEOUT}s; the group as Patroni sees it:"
      cluster_json
      log_tails "$dir"
    } >&2
    exit 1
  fi
  echo "postgresql://postgres@127.0.0.1:$PG_PORT_0,127.0.0.1:$PG_PORT_1,127.0.0.1:$PG_PORT_2/postgres?target_session_attrs=read-write&connect_timeout=2" >"$dir/url"
  cat "$dir/url"
}

# Signal $4 (default TERM) to $2 (a PID file's process), then up to $3
# seconds for it to go, then SIGKILL.
stop_pid() {
  local what="$1" pid="$2" timeout="$3" sig="${4:-TERM}" i
  alive "$pid" || return 0
  kill -"$sig" "$pid" 2>/dev/null
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "patroni-group.sh: $what (pid $pid) still runs ${timeout}s after SIG$sig: SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
}

cmd_stop() {
  local dir="$1" m pid
  [[ -d "$dir" ]] || return 0
  # the agents first: each stops its PostgreSQL (fast shutdown) on SIGTERM
  for m in "${MEMBERS[@]}"; do
    pid=$(read_pid "$dir/$m/patroni.pid")
    alive "$pid" && kill -TERM "$pid" 2>/dev/null
  done
  for m in "${MEMBERS[@]}"; do
    stop_pid "patroni $m" "$(read_pid "$dir/$m/patroni.pid")" "$STOP_TIMEOUT"
    rm -f "$dir/$m/patroni.pid"
  done
  # a postmaster left behind by a killed agent: SIGINT is PostgreSQL's fast
  # shutdown (SIGTERM would wait for every client to disconnect)
  for m in "${MEMBERS[@]}"; do
    pid=$(postmaster_pid "$dir/$m")
    [[ -n "$pid" ]] && stop_pid "postgres $m" "$pid" "$STOP_TIMEOUT" INT
  done
  stop_pid etcd "$(read_pid "$dir/etcd.pid")" 10
  rm -f "$dir/etcd.pid"
  return 0
}

cmd_status() {
  load_ports "$1"
  as_pg patronictl -c "$1/pg0/patroni.yml" list
}

# The leader's name from the group's view, or nothing.
leader_name() {
  cluster_json | python3 -c '
import json, sys
try:
    members = json.loads(sys.stdin.read() or "{}").get("members", [])
except ValueError:
    members = []
print(next((m["name"] for m in members if m.get("role") == "leader"), ""))'
}

member_index() {
  local i
  for i in 0 1 2; do
    [[ "${MEMBERS[$i]}" == "$1" ]] && echo "$i" && return 0
  done
  return 1
}

cmd_leader() {
  local dir="$1" name i
  load_ports "$dir"
  name=$(leader_name)
  [[ -n "$name" ]] || die "the group has no leader now"
  i=$(member_index "$name") || die "unknown leader $name"
  echo "member=$name postmaster_pid=$(postmaster_pid "$dir/$name") agent_pid=$(read_pid "$dir/$name/patroni.pid") port=$(pg_port "$i")"
}

cmd_kill_leader() {
  local dir="$1" line name agent pm children
  line=$(cmd_leader "$dir") || exit 1
  name=$(sed -n 's/^member=\([^ ]*\).*/\1/p' <<<"$line")
  agent=$(read_pid "$dir/$name/patroni.pid")
  pm=$(postmaster_pid "$dir/$name")
  alive "$agent" || die "the leader $name's agent does not run"
  [[ -n "$pm" ]] || die "the leader $name's postmaster does not run"
  # all at once, as a machine that loses power: the agent cannot demote or
  # hand over, the backends cannot finish what they were doing
  children=$(pgrep -P "$pm" | tr '\n' ' ')
  # shellcheck disable=SC2086
  kill -KILL "$agent" "$pm" $children 2>/dev/null
  echo "$line"
}

cmd_restart_member() {
  local dir="$1" name="$2" i
  load_ports "$dir"
  i=$(member_index "$name") || die "no member $name (members: ${MEMBERS[*]})"
  # a postmaster left by a killed agent would be adopted as is; a lost
  # server comes back without one
  local pm
  pm=$(postmaster_pid "$dir/$name")
  [[ -n "$pm" ]] && die "$name's postmaster (pid $pm) still runs: kill it or stop the group"
  start_member "$dir" "$i"
  echo "restarted $name: agent_pid=$(read_pid "$dir/$name/patroni.pid")"
}

main() {
  (($# >= 2)) || usage
  local cmd="$1" dir="$2"
  shift 2
  local base="" members=3 timeout=0
  while (($#)); do
    case "$1" in
      --base-port) base="${2:-}"; shift 2 || usage ;;
      --members) members="${2:-}"; shift 2 || usage ;;
      --timeout) timeout="${2:-}"; shift 2 || usage ;;
      *) [[ "$cmd" == restart-member && -z "${name:-}" ]] && { name="$1"; shift; continue; }; usage ;;
    esac
  done
  [[ -z "$base" || "$base" =~ ^[0-9]+$ ]] || usage
  case "$cmd" in
    start) cmd_start "$dir" "$base" ;;
    stop) cmd_stop "$dir" ;;
    status) cmd_status "$dir" ;;
    leader) cmd_leader "$dir" ;;
    ready)
      load_ports "$dir"
      wait_ready "$dir" "$members" "$timeout" || { echo "patroni-group.sh: group not ready" >&2; exit 1; } ;;
    kill-leader) cmd_kill_leader "$dir" ;;
    restart-member) [[ -n "${name:-}" ]] || usage; cmd_restart_member "$dir" "$name" ;;
    *) usage ;;
  esac
}

main "$@"
