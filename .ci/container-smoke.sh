#!/usr/bin/env bash
# container-smoke.sh - build a Dockerfile and run the image, on a Debian 12 machine
# (Wharf's copy of ../shared/tools/container-smoke.sh; changes: CTR_NAME, RUN_OPTS.)
# that has no Docker engine and no container registry (only Debian's apt mirror).
#
# How: rootful podman (Debian package) with runc, cgroupfs, overlay storage, and
# ulimits lowered to what this machine allows; the base image is made locally with
# mmdebstrap from the apt mirror configured on the machine and tagged with the
# Docker Hub names (docker.io/library/debian:bookworm, :bookworm-slim, :12 ...),
# so an unmodified "FROM debian:bookworm[-slim]" Dockerfile builds with --pull=never.
#
# Usage:  container-smoke.sh [CONTEXT_DIR [DOCKERFILE]]
#   default CONTEXT_DIR: the smoke-app/ folder beside this script.
# Env (all optional):
#   CTR_STATE       state dir: podman storage + cached base tarball   (/var/tmp/container-smoke)
#   IMAGE           tag for the built image                           (localhost/smoke-server:ci)
#   CONTAINER_PORT  port the server listens on inside the container   (8080)
#   HOST_PORT       port published on 127.0.0.1                       (18080)
#   PROBE_PATH      HTTP path probed with curl                        (/healthz)
#   PROBE_EXPECT    grep -E pattern the probe body must match         (empty: any 2xx)
#   RUN_ARGS        extra args for the server (appended after image)  (empty)
#   WAIT_S          readiness timeout in seconds                      (60)
#   USE_DOCKER_CLI  1: do build/run with the `docker` CLI against a
#                   temporary `podman system service` socket          (0)
#   BASE_MAX_AGE_D  rebuild the cached base tarball when older        (7)
#   KEEP            1: leave the container running                    (0)
#   CTR_NAME        container name                                    (smoke-PID)
#   RUN_OPTS        extra options for `run`, before the image, e.g.
#                   "-v NAME:/data" (word-split)                      (empty)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONTEXT="${1:-$here/smoke-app}"
DOCKERFILE="${2:-$CONTEXT/Dockerfile}"
CTR_STATE="${CTR_STATE:-/var/tmp/container-smoke}"
IMAGE="${IMAGE:-localhost/smoke-server:ci}"
CONTAINER_PORT="${CONTAINER_PORT:-8080}"
HOST_PORT="${HOST_PORT:-18080}"
PROBE_PATH="${PROBE_PATH:-/healthz}"
PROBE_EXPECT="${PROBE_EXPECT:-}"
RUN_ARGS="${RUN_ARGS:-}"
WAIT_S="${WAIT_S:-60}"
USE_DOCKER_CLI="${USE_DOCKER_CLI:-0}"
BASE_MAX_AGE_D="${BASE_MAX_AGE_D:-7}"
KEEP="${KEEP:-0}"
NAME="${CTR_NAME:-smoke-$$}"
RUN_OPTS="${RUN_OPTS:-}"

log() { printf '[container-smoke %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
t_start=$SECONDS

# --- 1. packages -------------------------------------------------------------
need=()
for p in podman runc conmon mmdebstrap containernetworking-plugins catatonit slirp4netns iptables uidmap curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- 2. podman configuration (private to CTR_STATE; /etc is not touched) ------
mkdir -p "$CTR_STATE/etc" "$CTR_STATE/storage" "$CTR_STATE/run"
# This machine lacks CAP_SYS_RESOURCE and podman caps its own RLIMIT_NPROC at 32768,
# so podman's default ulimits (nofile/nproc 1048576) make the OCI runtime fail with
# "setrlimit ... Operation not permitted". crun 1.8.1 also refuses the hybrid
# cgroup v1/v2 layout ("cgroups in hybrid mode not supported"), hence runc.
hard_nofile=$(ulimit -Hn); [[ $hard_nofile == unlimited ]] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu);  [[ $hard_nproc == unlimited ]] && hard_nproc=32768
((hard_nproc > 32768)) && hard_nproc=32768
cat >"$CTR_STATE/etc/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=${hard_nofile}:${hard_nofile}", "nproc=${hard_nproc}:${hard_nproc}"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$CTR_STATE/etc/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CTR_STATE/storage"
runroot = "$CTR_STATE/run"
EOF
export CONTAINERS_CONF="$CTR_STATE/etc/containers.conf"
export CONTAINERS_STORAGE_CONF="$CTR_STATE/etc/storage.conf"

# --- 3. base image without a registry -----------------------------------------
base_tar="$CTR_STATE/bookworm-minbase.tar"
base_tags=(docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
           docker.io/library/debian:12 docker.io/library/debian:12-slim localhost/bookworm-base:latest)
if ! podman image exists docker.io/library/debian:bookworm; then
  if [[ ! -s $base_tar ]] || [[ -n $(find "$base_tar" -mtime +"$BASE_MAX_AGE_D" 2>/dev/null) ]]; then
    # Use the host's own apt sources (the apt mirror configured on the machine).
    src=/etc/apt/sources.list.d/debian.sources
    [[ -f $src ]] || src=/etc/apt/sources.list
    log "mmdebstrap bookworm minbase -> $base_tar (sources: $src)"
    t0=$SECONDS
    rm -rf "$base_tar.part"
    mmdebstrap --quiet --variant=minbase --format=tar bookworm "$base_tar.part" "$src"
    mv "$base_tar.part" "$base_tar"
    log "mmdebstrap took $((SECONDS - t0))s"
  else
    log "using cached $base_tar"
  fi
  podman import --quiet --change 'CMD ["bash"]' "$base_tar" "${base_tags[0]}" >/dev/null
  for t in "${base_tags[@]:1}"; do podman tag "${base_tags[0]}" "$t"; done
fi

# --- 4. build (optionally through the docker CLI) ------------------------------
svc_pid=""
cleanup() {
  if [[ $KEEP != 1 ]]; then
    if [[ $USE_DOCKER_CLI == 1 && -n $svc_pid ]]; then docker rm -f -v "$NAME" >/dev/null 2>&1 || true
    else podman rm -f -v -t 5 "$NAME" >/dev/null 2>&1 || true; fi
  fi
  if [[ -n $svc_pid ]]; then kill "$svc_pid" 2>/dev/null || true; wait "$svc_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [[ $USE_DOCKER_CLI == 1 ]]; then
  sock="$CTR_STATE/podman.sock"
  rm -f "$sock"
  podman system service --time=0 "unix://$sock" >"$CTR_STATE/service.log" 2>&1 &
  svc_pid=$!
  for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
  export DOCKER_HOST="unix://$sock" DOCKER_BUILDKIT=0
  ctr=docker
  build=(docker build --pull=false -f "$DOCKERFILE" -t "$IMAGE" "$CONTEXT")
else
  ctr=podman
  build=(podman build --pull=never --layers -f "$DOCKERFILE" -t "$IMAGE" "$CONTEXT")
fi
log "build: ${build[*]}"
t0=$SECONDS
"${build[@]}"
log "build took $((SECONDS - t0))s"

# --- 5. run with a published port and probe it from the host -------------------
# --init: catatonit as PID 1, so SIGTERM stops the server even if it has no handler.
# shellcheck disable=SC2086
$ctr run -d --init --name "$NAME" -p "127.0.0.1:${HOST_PORT}:${CONTAINER_PORT}" $RUN_OPTS "$IMAGE" $RUN_ARGS >/dev/null
url="http://127.0.0.1:${HOST_PORT}${PROBE_PATH}"
log "probing $url (up to ${WAIT_S}s)"
body=""
deadline=$((SECONDS + WAIT_S))
while ((SECONDS < deadline)); do
  if body=$(curl -fsS --max-time 2 "$url" 2>/dev/null); then break; fi
  body=""
  [[ $($ctr inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null) == true ]] || break
  sleep 0.3
done
if [[ -z $body ]] || { [[ -n $PROBE_EXPECT ]] && ! grep -Eq -- "$PROBE_EXPECT" <<<"$body"; }; then
  log "FAILED: no good answer from $url; container logs:"
  $ctr logs "$NAME" >&2 || true
  echo "container smoke: 0 passed, 1 failed"
  exit 1
fi
log "answer: $body"
size=$($ctr image inspect -f '{{.Size}}' "$IMAGE" 2>/dev/null || echo '?')
log "image $IMAGE size ${size} bytes; total $((SECONDS - t_start))s"
echo "container smoke: 1 passed, 0 failed"
