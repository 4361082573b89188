#!/usr/bin/env bash
# Checks docker/compose.postgres.yaml with podman-compose (Debian 12's 1.0.3) on a
# machine without a container registry: builds tests/container/postgres-standin
# (PostgreSQL 15 from Debian's packages, with the official image's
# POSTGRES_USER/PASSWORD/DB interface) and tags it docker.io/library/postgres:15
# in CTR_STATE's podman storage (never if that name is already another image),
# builds the wharf:postgresql image through the compose file's own build section
# (`podman-compose build`), then `up -d`, waits for both nodes' /health on
# localhost:9324 and :9325, sends 3 messages on 9324 and receives them on 9325
# with boto3, checks that both nodes stop on SIGTERM with exit code 0, and runs
# `down -v`. Not part of CI (it takes the host's ports 9324 and 9325).
#
# Usage: tests/container/compose-postgres.sh   (root; after tests/container/run.sh
#        set up podman in CTR_STATE)
# Needs: podman-compose and the CNI dnsname plugin (installed when missing:
#        apt packages podman-compose, golang-github-containernetworking-plugin-dnsname),
#        which resolves the service name `postgres` for the Wharf nodes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export CTR_STATE="${CTR_STATE:-/var/tmp/wharf-ctr}"
PY="${PYTHON:-python3}"
project=wharf-pg-compose-check
standin=localhost/postgres-standin:15
log() { printf '[compose pg check %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

[[ -f $CTR_STATE/etc/containers.conf ]] || fail "run tests/container/run.sh first (podman setup in $CTR_STATE)"
need=()
for p in podman-compose golang-github-containernetworking-plugin-dnsname; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi

# The smoke script's podman settings, plus CNI network files kept in CTR_STATE
# (podman-compose creates a network per project; /etc is not touched).
conf="$CTR_STATE/etc/containers-compose.conf"
{
  cat "$CTR_STATE/etc/containers.conf"
  printf '[network]\nnetwork_config_dir = "%s"\n' "$CTR_STATE/cni"
} >"$conf"
mkdir -p "$CTR_STATE/cni"
export CONTAINERS_CONF="$conf"
export CONTAINERS_STORAGE_CONF="$CTR_STATE/etc/storage.conf"
export BUILDAH_FORMAT=docker

log "stand-in for postgres:15 from tests/container/postgres-standin"
podman build --pull=never --layers -q -t "$standin" tests/container/postgres-standin >/dev/null
if podman image exists docker.io/library/postgres:15; then
  podman image inspect -f '{{.Labels}}' docker.io/library/postgres:15 | grep -q postgres-standin ||
    fail "docker.io/library/postgres:15 is another image here; not replacing it"
fi
podman tag "$standin" docker.io/library/postgres:15

compose=(podman-compose -p "$project" -f docker/compose.postgres.yaml)
cleanup() { "${compose[@]}" down -v >/dev/null 2>&1 || true; }
trap 'status=$?; if ((status)); then for s in postgres wharf-1 wharf-2; do podman logs "${project}_${s}_1" 2>&1 | tail -15 | sed "s/^/[$s] /" >&2 || true; done; fi; cleanup' EXIT
cleanup

log "podman-compose build (the compose file's build section: --target postgresql)"
"${compose[@]}" build wharf-1 >/dev/null
log "podman-compose up -d"
t0=$(date +%s%N)
"${compose[@]}" up -d >/dev/null 2>&1 || fail "podman-compose up"
for port in 9324 9325; do
  ms="$(timeout 120 "$PY" "$here/sqs_check.py" "http://127.0.0.1:$port" wait-health "$t0" 90)" ||
    fail "no /health on localhost:$port"
  log "localhost:$port healthy ${ms} ms after up"
done
for s in postgres wharf-1 wharf-2; do
  log "$s: $(podman inspect -f '{{.State.Status}}, restarted {{.RestartCount}} times' "${project}_${s}_1")"
done
podman exec "${project}_postgres_1" pg_isready -U wharf -d wharf -h 127.0.0.1 >/dev/null || fail "pg_isready"
podman exec "${project}_wharf-1_1" /wharf health >/dev/null || fail "wharf health in wharf-1"
"$PY" "$here/sqs_check.py" http://127.0.0.1:9324 send compose-check 3 >/dev/null || fail "send on :9324"
"$PY" "$here/sqs_check.py" http://127.0.0.1:9325 receive compose-check 3 >/dev/null || fail "receive on :9325"
log "sent 3 on localhost:9324 (wharf-1), received them on localhost:9325 (wharf-2)"
"${compose[@]}" stop >/dev/null 2>&1
for s in wharf-1 wharf-2; do
  code="$(podman inspect -f '{{.State.ExitCode}}' "${project}_${s}_1")"
  [[ $code == 0 ]] || fail "$s exited with $code after SIGTERM"
done
echo "compose pg check: passed (postgres + 2 wharf nodes; send on 9324, receive on 9325; clean stop)"
