#!/usr/bin/env bash
# Wharf crash-safety test: producers and consumers over HTTP while wharf is
# killed with SIGKILL at random (seeded) moments and restarted on the same data
# dir and port (variant postgresql: two nodes on one throwaway PostgreSQL;
# variant patroni: two nodes on a Patroni group whose primary is killed three
# times); then every acknowledged send, delete and receive is checked.
#
# Usage: tests/crash/run.sh [--seed N] [--kills N] [--duration SECONDS] [--variants wal,fsync,postgresql,patroni] [...]
#   (all flags: tests/crash/run.sh --help)
#   CI form (default): seed 1, 20 kills in a 25 s load phase, per variant;
#                      3 failovers in the patroni variant.
#   Long manual form:  tests/crash/run.sh --seed 7 --kills 200 --duration 900
#   WHARF_BIN=/path/to/wharf    server binary (default: build/wharf; a private copy is run)
#   PYTHON=python3              interpreter with boto3
#   WHARF_CRASH_TIMEOUT=SECONDS hard limit of the whole run
#                               (default: 2 x (duration + 150), plus 300 when the
#                               patroni variant runs, i.e. 650 s for the CI form)
# Exits non-zero on any violation, on any failure to run, or on the hard timeout.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-python3}"
duration=25
variants="patroni"   # the default list includes it
prev=""
for a in "$@"; do
  case "$a" in
    --duration=*) duration="${a#--duration=}" ;;
    --variants=*) variants="${a#--variants=}" ;;
  esac
  if [ "$prev" = "--duration" ]; then duration="$a"; fi
  if [ "$prev" = "--variants" ]; then variants="$a"; fi
  prev="$a"
done
duration="${duration%.*}"
case "$duration" in ''|*[!0-9]*) duration=25 ;; esac
# the patroni variant takes ~140 s (group start ~20 s, 3 failovers, drain)
patroni=0
case ",$variants," in *,patroni,*) patroni=300 ;; esac
limit="${WHARF_CRASH_TIMEOUT:-$(( 2 * (duration + 150) + patroni ))}"
exec timeout -s TERM -k 15 "$limit" "$py" -u "$here/crash_test.py" "$@"
