#!/usr/bin/env bash
# What one PostgreSQL group costs per message, and how several groups share
# a many-queue load (issue 19; docs/SCALING.md quotes its output).
#
# Usage: bench/scaling.sh [--groups N] [--queues K] [--scenario S] [--duration SECONDS] [--runs R]
#                         [--connections C] [--nodes M] [-- WHARF-BENCH OPTIONS...]
#   N groups (default 1): throwaway clusters (tests/pg/cluster.sh), one
#     database each, listed in a --postgres-groups file;
#   M Wharf nodes (default 1) on that file; K queues (default 8): K wharf-bench
#     processes at once, each creating its own queue (random names, so the
#     placement hash spreads them), C connections in all (default 16),
#     spread over the nodes;
#   scenario S (default sendbatch) for SECONDS (default 8), R runs (default 3);
#   options after `--` go to every wharf-bench (e.g. -- --batch 10).
#   WHARF_BIN (default build/wharf, built with -DWHARF_POSTGRESQL=ON),
#   BENCH_BIN (default build/bench/wharf-bench).
# Per run it prints: messages/s (all benches' timed phases), then per
# message stored over the whole window (queue set-up and warm-up included,
# counted from pg_stat_user_tables): Wharf's CPU µs (all nodes), PostgreSQL's
# CPU µs (all groups' processes), WAL bytes (all groups); and each group's
# queues and share of the messages.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
groups=1 queues=8 scenario=sendbatch duration=8 runs=3 connections=16 nodes=1
extra=()
while (($#)); do
  case "$1" in
    --) shift; extra=("$@"); break ;;
    --groups) groups=$2 ;;
    --queues) queues=$2 ;;
    --scenario) scenario=$2 ;;
    --duration) duration=$2 ;;
    --runs) runs=$2 ;;
    --connections) connections=$2 ;;
    --nodes) nodes=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
wharf=${WHARF_BIN:-$here/build/wharf}
bench=${BENCH_BIN:-$here/build/bench/wharf-bench}
work=$(mktemp -d /tmp/wharf-scaling.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for g in $(seq "$groups"); do "$here/tests/pg/cluster.sh" stop "$work/pg$g" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ports=()
for g in $(seq "$groups"); do
  WHARF_TEST_POSTGRES_SETTINGS="${WHARF_TEST_POSTGRES_SETTINGS:-}" "$here/tests/pg/cluster.sh" start "$work/pg$g" >/dev/null
  ports+=("$(cat "$work/pg$g/port")")
done
psql_at() { psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"; }
# CPU ticks of a cluster's postmaster and its children.
pg_ticks() {
  local pm t=0
  pm=$(head -1 "$work/pg$1/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
  echo $t
}
proc_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
stored() { psql_at "$1" "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'messages'"; }
wal() { psql_at "$1" "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }

for run in $(seq "$runs"); do
  schema="scaling$run$RANDOM"
  : > "$work/groups"
  for p in "${ports[@]}"; do echo "postgresql://postgres@127.0.0.1:$p/postgres" >> "$work/groups"; done
  pids=() endpoints=()
  for n in $(seq "$nodes"); do
    "$wharf" --bind 127.0.0.1 --port 0 --storage postgresql --postgres-groups "$work/groups" \
      --postgres-schema "$schema" > "$work/wharf$run.$n.log" 2>&1 &
    pids+=($!)
    port=""
    for _ in $(seq 150); do
      port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/wharf$run.$n.log" 2>/dev/null || true)
      [ -n "$port" ] && break
      sleep 0.1
    done
    [ -n "$port" ] || { echo "wharf did not start:"; tail -5 "$work/wharf$run.$n.log"; exit 1; }
    endpoints+=("http://127.0.0.1:$port")
  done
  endpoint=$(IFS=,; echo "${endpoints[*]}")
  declare -a s0 w0 c0
  for g in $(seq "$groups"); do
    s0[$g]=$(stored "${ports[$((g - 1))]}"); w0[$g]=$(wal "${ports[$((g - 1))]}"); c0[$g]=$(pg_ticks "$g")
  done
  wharf0=0
  for p in "${pids[@]}"; do wharf0=$((wharf0 + $(proc_ticks "$p"))); done
  per=$(( connections / queues > 0 ? connections / queues : 1 ))
  benches=()
  for q in $(seq "$queues"); do
    "$bench" --endpoint "$endpoint" --scenario "$scenario" --duration "$duration" --connections "$per" \
      --threads 1 --json --quiet "${extra[@]}" > "$work/bench$run.$q.json" 2> "$work/bench$run.$q.err" &
    benches+=($!)
  done
  failed=0
  for b in "${benches[@]}"; do wait "$b" || failed=1; done
  sleep 1.5  # the statistics of the last transactions reach pg_stat_user_tables
  wharf1=0
  for p in "${pids[@]}"; do wharf1=$((wharf1 + $(proc_ticks "$p"))); done
  line=""
  total_msgs=0 total_wal=0 total_pg=0
  shares=""
  for g in $(seq "$groups"); do
    port=${ports[$((g - 1))]}
    s=$(( $(stored "$port") - s0[$g] )); w=$(( $(wal "$port") - w0[$g] )); c=$(( $(pg_ticks "$g") - c0[$g] ))
    q=$(psql_at "$port" "SELECT count(*) FROM $schema.queues")
    total_msgs=$((total_msgs + s)); total_wal=$((total_wal + w)); total_pg=$((total_pg + c))
    shares+=" group$g:queues=$q,stored=$s"
  done
  python3 - "$work" "$run" "$queues" "$total_msgs" "$total_wal" "$total_pg" "$((wharf1 - wharf0))" "$failed" "$shares" <<'PY'
import json, os, sys
work, run, queues = sys.argv[1], sys.argv[2], int(sys.argv[3])
msgs, wal, pg, wharf, failed, shares = (int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]),
                                        sys.argv[8], sys.argv[9])
hz = os.sysconf('SC_CLK_TCK')
rate, ok = 0.0, failed == '0'
for q in range(1, queues + 1):
    try:
        b = json.load(open(f"{work}/bench{run}.{q}.json"))
        rate += b['messages_per_s']
        ok = ok and b.get('ok', False)
    except Exception:
        ok = False
per = lambda ticks: ticks / hz * 1e6 / max(1, msgs)
total = sum(int(s.split('stored=')[1]) for s in shares.split()) or 1
spread = ' '.join(f"{s} ({100 * int(s.split('stored=')[1]) / total:.0f}%)" for s in shares.split())
print(f"run {run}: {rate:,.0f} msg/s, Wharf {per(wharf):.1f} us/msg, PostgreSQL {per(pg):.1f} us/msg, "
      f"WAL {wal / max(1, msgs):.0f} B/msg, {msgs} stored; {spread}; benches {'ok' if ok else 'FAILED'}")
PY
  for p in "${pids[@]}"; do kill "$p"; done
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
done
