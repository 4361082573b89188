#!/usr/bin/env bash
# Container test: builds docker/Dockerfile with rootful podman (through
# .ci/container-smoke.sh, which installs podman and makes a local Debian base
# image when missing), runs the image with a named volume and drives it from the
# host with boto3 (JSON protocol): create a queue, send 3 messages, replace the
# container by a new one on the same volume, receive the 3 messages. Checks the
# image's HEALTHCHECK (`wharf health`), that SIGTERM stops the server (as PID 1
# and under --init) quickly and cleanly, and prints the image size and the time
# from `podman run` / `podman start` to the first answered request. Then the
# Testcontainers for Node example (tests/container/testcontainers) runs against
# the image through a private `podman system service` socket. Then
# tests/container/postgres.sh builds the PostgreSQL variant (--target postgresql)
# and runs two nodes of it on a throwaway PostgreSQL (send on one, receive on the
# other, HEALTHCHECK, SIGTERM).
#
# Usage: tests/container/run.sh        (root; Debian 12; only the apt mirror needed)
# Env (optional):
#   CTR_STATE      podman storage and config, reused between runs  (/var/tmp/wharf-ctr)
#   HOST_PORT      port published on 127.0.0.1                      (19324)
#   IMAGE          image tag                                        (localhost/wharf:ci)
#   STOP_LIMIT_MS  slowest acceptable `podman stop -t 5`            (3000)
#   PYTHON         interpreter with boto3 >= 1.34 (JSON protocol)   (python3)
#   CONTAINER_PG   0: skip the PostgreSQL variant                   (1)
# Exits non-zero on any failure. Removes only its own containers and volume.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export CTR_STATE="${CTR_STATE:-/var/tmp/wharf-ctr}"
HOST_PORT="${HOST_PORT:-19324}"
IMAGE="${IMAGE:-localhost/wharf:ci}"
STOP_LIMIT_MS="${STOP_LIMIT_MS:-3000}"
PY="${PYTHON:-python3}"
first=wharf-ctr-test-1     # made by the smoke script (--init)
second=wharf-ctr-test-2    # made here (wharf is PID 1)
volume=wharf-ctr-test-data
queue=container-test
endpoint="http://127.0.0.1:${HOST_PORT}"
t_begin=$SECONDS

log() { printf '[container test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# The same podman settings as the smoke script (it writes them on its first run).
export CONTAINERS_CONF="$CTR_STATE/etc/containers.conf"
export CONTAINERS_STORAGE_CONF="$CTR_STATE/etc/storage.conf"
# Docker image format, so that HEALTHCHECK is kept (OCI has no health checks).
export BUILDAH_FORMAT=docker
# Podman without systemd cannot schedule HEALTHCHECK timers and says so on every
# run/stop/rm ("unable to get systemd connection"); `podman healthcheck run` works.
quiet() { grep -v 'systemd connection' >&2 || true; }
pm() { timeout 60 podman "$@" 2> >(quiet); }

cleanup() {
  [[ -f $CONTAINERS_CONF ]] && command -v podman >/dev/null || return 0
  for c in "$first" "$second"; do timeout 60 podman rm -f -v -t 5 "$c" >/dev/null 2>&1 || true; done
  timeout 60 podman volume rm -f "$volume" >/dev/null 2>&1 || true
}
cleanup  # leftovers of an interrupted run
trap 'status=$?; if ((status)); then for c in "$first" "$second"; do pm logs "$c" 2>/dev/null | tail -20 | sed "s/^/[$c] /" >&2 || true; done; fi; cleanup' EXIT

if curl -s --max-time 1 -o /dev/null "$endpoint/health"; then
  fail "something already answers on $endpoint; set HOST_PORT"
fi
"$PY" -c 'import boto3' || fail "$PY has no boto3"

# 1. Build, run with the volume (under --init), probe /health.
log "build and smoke run (.ci/container-smoke.sh)"
CTR_NAME="$first" RUN_OPTS="-v ${volume}:/data" KEEP=1 IMAGE="$IMAGE" CONTAINER_PORT=9324 HOST_PORT="$HOST_PORT" \
  PROBE_PATH=/health PROBE_EXPECT='^ok' WAIT_S=60 \
  timeout 2400 .ci/container-smoke.sh . docker/Dockerfile || fail "container smoke"

# 2. Queue and messages from the host.
timeout 120 "$PY" "$here/sqs_check.py" "$endpoint" send "$queue" 3 || fail "create queue / send"
mount="$(pm volume inspect -f '{{.Mountpoint}}' "$volume")"
owner="$(stat -c %u "$mount/CURRENT" 2>/dev/null || echo '?')"
[[ $owner == 10001 ]] || fail "data files in the volume belong to uid $owner, want 10001 (non-root)"

# 3. SIGTERM through --init (catatonit forwards it).
t0=$(now_ns)
pm stop -t 5 "$first" >/dev/null
stop_init_ms=$(ms_since "$t0")
code="$(pm inspect -f '{{.State.ExitCode}}' "$first")"
[[ $code == 0 ]] || fail "$first exited with $code after SIGTERM (137: it was killed)"
pm logs "$first" 2>&1 | grep -q 'wharf stopped' || fail "$first did not log 'wharf stopped'"
pm rm "$first" >/dev/null
((stop_init_ms <= STOP_LIMIT_MS)) || fail "stop under --init took ${stop_init_ms} ms (limit ${STOP_LIMIT_MS})"

# 4. A new container on the same volume, wharf as PID 1: the messages are there.
t0=$(now_ns)
pm run -d --name "$second" -v "${volume}:/data" -p "127.0.0.1:${HOST_PORT}:9324" "$IMAGE" >/dev/null
run_ms="$(timeout 60 "$PY" "$here/sqs_check.py" "$endpoint" wait-health "$t0" 30)" || fail "no /health after podman run"
timeout 120 "$PY" "$here/sqs_check.py" "$endpoint" receive "$queue" 3 || fail "messages lost across the restart"

# 5. The image's HEALTHCHECK runs `/wharf health` inside the container.
pm healthcheck run "$second" >/dev/null || fail "podman healthcheck run (HEALTHCHECK /wharf health) failed"

# 6. SIGTERM to wharf as PID 1, then start the same container again, stop again.
t0=$(now_ns)
pm stop -t 5 "$second" >/dev/null
stop_pid1_ms=$(ms_since "$t0")
code="$(pm inspect -f '{{.State.ExitCode}}' "$second")"
[[ $code == 0 ]] || fail "$second (wharf as PID 1) exited with $code after SIGTERM (137: it was killed)"
((stop_pid1_ms <= STOP_LIMIT_MS)) || fail "stop of wharf as PID 1 took ${stop_pid1_ms} ms (limit ${STOP_LIMIT_MS})"
t0=$(now_ns)
pm start "$second" >/dev/null
start_ms="$(timeout 60 "$PY" "$here/sqs_check.py" "$endpoint" wait-health "$t0" 30)" || fail "no /health after podman start"
t0=$(now_ns)
pm stop -t 5 "$second" >/dev/null
stop_pid1_again_ms=$(ms_since "$t0")
((stop_pid1_again_ms <= STOP_LIMIT_MS)) || fail "second stop took ${stop_pid1_again_ms} ms (limit ${STOP_LIMIT_MS})"

# 7. Testcontainers for Node (GenericContainer, wait on /health, WHARF_EPHEMERAL=1,
#    the AWS SDK v3 on the mapped port) through podman's Docker-compatible socket;
#    the image's HEALTHCHECK first runs one interval after the start: 1 s at most.
t0=$SECONDS
hc_interval="$(pm image inspect -f '{{.HealthCheck.Interval}}' "$IMAGE")"
[[ $hc_interval =~ ^([0-9]+ms|1s)$ ]] || fail "the image's HEALTHCHECK interval is $hc_interval, want 1s at most"
tc_out="$("$here/testcontainers/run.sh" "$IMAGE")" || { printf '%s\n' "$tc_out" >&2; fail "Testcontainers example"; }
printf '%s\n' "$tc_out" | grep '^testcontainers:' >&2
tc_ready="$(printf '%s\n' "$tc_out" | sed -n 's/^testcontainers: start->first answer \([0-9]*\) ms.*/\1/p')"
log "Testcontainers step: $((SECONDS - t0)) s"

# 8. The PostgreSQL variant: two nodes of it on one throwaway database.
if [[ ${CONTAINER_PG:-1} != 0 ]]; then
  t0=$SECONDS
  PG_NODE_PORTS="${PG_NODE_PORTS:-$((HOST_PORT + 1)) $((HOST_PORT + 2))}" "$here/postgres.sh" || fail "the PostgreSQL image (tests/container/postgres.sh)"
  log "PostgreSQL variant: $((SECONDS - t0)) s"
fi

size="$(pm image inspect --format '{{.Size}}' "$IMAGE")"
log "image $IMAGE: ${size} bytes ($((size / 1024 / 1024)) MiB)"
log "first answered request: ${run_ms} ms after podman run, ${start_ms} ms after podman start"
log "SIGTERM stop: ${stop_init_ms} ms under --init, ${stop_pid1_ms} ms and ${stop_pid1_again_ms} ms as PID 1"
log "Testcontainers: ${tc_ready} ms from start() to the first SQS answer"
log "total $((SECONDS - t_begin)) s"
echo "container test: passed (image ${size} bytes, run->ready ${run_ms} ms, start->ready ${start_ms} ms," \
     "stop ${stop_init_ms}/${stop_pid1_ms}/${stop_pid1_again_ms} ms, Testcontainers start->answer ${tc_ready} ms)"
