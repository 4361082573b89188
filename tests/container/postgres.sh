#!/usr/bin/env bash
# Container test of the PostgreSQL image variant (docker/Dockerfile --target
# postgresql): builds it with rootful podman, starts a throwaway PostgreSQL on the
# host (tests/pg/cluster.sh), runs two containers of the image with
# --network host as two Wharf nodes on that database, and drives them from the
# host with boto3: create a queue and send 3 messages on node 1, receive them on
# node 2. Checks the image's HEALTHCHECK and that SIGTERM stops both nodes
# quickly with exit code 0, and prints the image size.
#
# Usage: tests/container/postgres.sh   (root; called by tests/container/run.sh,
#        after .ci/container-smoke.sh set up podman in CTR_STATE)
# Env (optional):
#   CTR_STATE      podman storage and config                      (/var/tmp/wharf-ctr)
#   PG_IMAGE       image tag                                      (localhost/wharf:ci-postgresql)
#   PG_NODE_PORTS  the two nodes' ports on 127.0.0.1              ("19325 19326")
#   STOP_LIMIT_MS  slowest acceptable `podman stop -t 5`          (3000)
#   PYTHON         interpreter with boto3 >= 1.34                 (python3)
#   JOBS           compile jobs in the image build                (empty: one per core)
# Exits non-zero on any failure; 0 with a "skipped" line when PostgreSQL is not
# installed on the host. Removes only its own containers and cluster.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export CTR_STATE="${CTR_STATE:-/var/tmp/wharf-ctr}"
PG_IMAGE="${PG_IMAGE:-localhost/wharf:ci-postgresql}"
read -r -a ports <<<"${PG_NODE_PORTS:-19325 19326}"
STOP_LIMIT_MS="${STOP_LIMIT_MS:-3000}"
PY="${PYTHON:-python3}"
nodes=(wharf-ctr-pg-1 wharf-ctr-pg-2)
queue=container-pg-test
t_begin=$SECONDS

log() { printf '[container pg test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

export CONTAINERS_CONF="$CTR_STATE/etc/containers.conf"
export CONTAINERS_STORAGE_CONF="$CTR_STATE/etc/storage.conf"
export BUILDAH_FORMAT=docker  # keeps HEALTHCHECK
[[ -f $CONTAINERS_CONF ]] || fail "no $CONTAINERS_CONF: run .ci/container-smoke.sh (tests/container/run.sh) first"
quiet() { grep -v 'systemd connection' >&2 || true; }
pm() { timeout 60 podman "$@" 2> >(quiet); }

cluster="$(mktemp -d /tmp/wharf-ctr-pg.XXXXXX)"
cleanup() {
  for c in "${nodes[@]}"; do timeout 60 podman rm -f -v -t 5 "$c" >/dev/null 2>&1 || true; done
  tests/pg/cluster.sh stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
for c in "${nodes[@]}"; do timeout 60 podman rm -f -v -t 5 "$c" >/dev/null 2>&1 || true; done
trap 'status=$?; if ((status)); then for c in "${nodes[@]}"; do pm logs "$c" 2>/dev/null | tail -20 | sed "s/^/[$c] /" >&2 || true; done; fi; cleanup' EXIT

for p in "${ports[@]}"; do
  if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$p/health"; then
    fail "something already answers on 127.0.0.1:$p; set PG_NODE_PORTS"
  fi
done

# 1. The image: the builder stage is the default image's (cached), so this
#    compiles only what the PostgreSQL configuration changes (ccache).
log "build $PG_IMAGE (--target postgresql)"
t0=$SECONDS
timeout 2400 podman build --pull=never --layers ${JOBS:+--build-arg JOBS="$JOBS"} --target postgresql \
  -f docker/Dockerfile -t "$PG_IMAGE" . >"$cluster/build.log" 2>&1 || { tail -30 "$cluster/build.log" >&2; fail "image build"; }
build_s=$((SECONDS - t0))

# 2. A throwaway PostgreSQL on the host's loopback.
set +e
line="$(tests/pg/cluster.sh start "$cluster")"
status=$?
set -e
if ((status == 3)); then
  echo "container pg test: skipped (PostgreSQL is not installed: scripts/install-deps.sh --tests)"
  exit 0
fi
((status == 0)) || fail "tests/pg/cluster.sh start"
url="${line#WHARF_TEST_POSTGRES_URL=}"

# 3. Two nodes of the image on that database (host network: the cluster
#    listens on 127.0.0.1 only). WHARF_PORT moves the port and the health check.
t0=$(now_ns)
for i in 0 1; do
  pm run -d --name "${nodes[$i]}" --network host -e WHARF_POSTGRES_URL="$url" -e WHARF_PORT="${ports[$i]}" \
    "$PG_IMAGE" --bind 127.0.0.1 --storage postgresql >/dev/null
done
for i in 0 1; do
  ready_ms[i]="$(timeout 60 "$PY" "$here/sqs_check.py" "http://127.0.0.1:${ports[$i]}" wait-health "$t0" 30)" ||
    fail "${nodes[$i]}: no /health after podman run"
done

# 4. Send on node 1, receive (and delete) on node 2.
timeout 120 "$PY" "$here/sqs_check.py" "http://127.0.0.1:${ports[0]}" send "$queue" 3 >/dev/null ||
  fail "create queue / send on ${nodes[0]}"
timeout 120 "$PY" "$here/sqs_check.py" "http://127.0.0.1:${ports[1]}" receive "$queue" 3 >/dev/null ||
  fail "receive on ${nodes[1]} what ${nodes[0]} sent"

# 5. HEALTHCHECK (/wharf health, following WHARF_PORT).
pm healthcheck run "${nodes[1]}" >/dev/null || fail "podman healthcheck run on ${nodes[1]}"

# 6. SIGTERM to wharf as PID 1: exit 0, quickly, 'wharf stopped' logged.
for i in 0 1; do
  t0=$(now_ns)
  pm stop -t 5 "${nodes[$i]}" >/dev/null
  stop_ms[i]=$(ms_since "$t0")
  code="$(pm inspect -f '{{.State.ExitCode}}' "${nodes[$i]}")"
  [[ $code == 0 ]] || fail "${nodes[$i]} exited with $code after SIGTERM (137: it was killed)"
  pm logs "${nodes[$i]}" 2>&1 | grep -q 'wharf stopped' || fail "${nodes[$i]} did not log 'wharf stopped'"
  ((stop_ms[i] <= STOP_LIMIT_MS)) || fail "stop of ${nodes[$i]} took ${stop_ms[i]} ms (limit ${STOP_LIMIT_MS})"
done

size="$(pm image inspect --format '{{.Size}}' "$PG_IMAGE")"
log "image $PG_IMAGE: ${size} bytes ($((size / 1024 / 1024)) MiB); build ${build_s} s; total $((SECONDS - t_begin)) s"
echo "container pg test: passed (image ${size} bytes, send on node 1 / receive on node 2," \
     "run->ready ${ready_ms[0]}/${ready_ms[1]} ms, stop ${stop_ms[0]}/${stop_ms[1]} ms, $((SECONDS - t_begin)) s)"
