#!/usr/bin/env bash
# Runs the Testcontainers for Node example (wharf.test.mjs) against an image
# already built, through podman's Docker-compatible API: a private
# `podman system service` socket (removed at the end), DOCKER_HOST pointing at
# it, Ryuk disabled (the test stops and removes its own container).
# Called by tests/container/run.sh after its image build, with its podman
# settings in CONTAINERS_CONF / CONTAINERS_STORAGE_CONF.
# Usage: tests/container/testcontainers/run.sh IMAGE
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
image="${1:?usage: run.sh IMAGE}"

timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null

sockdir="$(mktemp -d /tmp/wharf-testcontainers.XXXXXX)"
sock="$sockdir/podman.sock"
podman system service --time=0 "unix://$sock" >"$sockdir/service.log" 2>&1 &
svc_pid=$!
stop_service() {
  # A test killed by its timeout leaves its container (no Ryuk to reap it).
  local left=()
  mapfile -t left < <(timeout 30 podman ps -aq --filter label=org.testcontainers=true --filter "ancestor=$image" 2>/dev/null || true)
  ((${#left[@]} == 0)) || timeout 60 podman rm -f -t 2 "${left[@]}" >/dev/null 2>&1 || true
  kill "$svc_pid" 2>/dev/null || true
  wait "$svc_pid" 2>/dev/null || true
  rm -rf "$sockdir"
}
trap 'status=$?; if ((status)); then grep -v "systemd connection" "$sockdir/service.log" | tail -20 | sed "s/^/[podman service] /" >&2 || true; fi; stop_service' EXIT
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { echo "podman system service made no socket at $sock" >&2; exit 1; }

export DOCKER_HOST="unix://$sock" TESTCONTAINERS_RYUK_DISABLED=true WHARF_IMAGE="$image"
export AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1 NODE_NO_WARNINGS=1
timeout -k 10 120 node --test --test-reporter=spec wharf.test.mjs
