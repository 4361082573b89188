#!/usr/bin/env bash
# Checks docker/compose.cluster.yaml by hand with podman-compose (Debian 12's 1.0.3)
# under rootful podman, on a machine without a container registry:
#  1. validates the file (`docker-compose config -q` and `podman-compose config`,
#     when installed);
#  2. builds both images through the file's build sections (wharf-patroni:15 from
#     docker/patroni, wharf:postgresql from docker/Dockerfile's postgresql target),
#     timing each;
#  3. `up -d`; waits for a Leader and a Sync Standby (patronictl list) and both
#     Wharf nodes' /health on localhost:9324 and :9325; shows synchronous_standby_names;
#  4. sends 3 messages on 9324 and receives them on 9325 with boto3;
#  5. kills the leader's container (podman kill) while a client sends on 9324 every
#     ~100 ms: prints how long sends failed, checks a new leader is elected and that
#     every acknowledged send is received on 9325, then sends/receives 3 again;
#  6. `down -v` (its own project's containers, network and volumes only).
# Not part of CI (building the images is slow; it takes the host's ports 9324/9325).
#
# Usage: tests/container/compose-cluster.sh   (root; after tests/container/run.sh
#        set up podman in CTR_STATE)
# Env: CTR_STATE (/var/tmp/wharf-ctr), PYTHON (python3 with boto3 >= 1.34),
#      KEEP=1 leaves the cluster running (remove it with the `down -v` it prints).
# Needs: podman-compose and the CNI dnsname plugin (installed when missing), which
#        resolves service names (etcd, pg-1 ...) between containers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export CTR_STATE="${CTR_STATE:-/var/tmp/wharf-ctr}"
PY="${PYTHON:-python3}"
KEEP="${KEEP:-0}"
project=wharf-cluster-check
file=docker/compose.cluster.yaml
members=(pg-1 pg-2 pg-3)
log() { printf '[compose cluster check %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
ctr() { echo "${project}_$1_1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

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
"$PY" -c 'import boto3' || fail "$PY has no boto3"
for port in 9324 9325; do
  ! curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$port/health" || fail "something already answers on :$port"
done

# 1. Static validation.
if command -v docker-compose >/dev/null; then
  docker-compose -f "$file" config -q || fail "docker-compose config"
  log "docker-compose $(docker-compose version --short) config: valid"
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
export BUILDAH_FORMAT=docker  # keeps the images' HEALTHCHECK

compose=(podman-compose -p "$project" -f "$file")
pc_version="$(podman-compose version 2>/dev/null | sed -n 's/^podman-composer* version *//p' | head -1)"
if podman-compose --help 2>&1 | grep -qw config; then  # 1.0.3 has no `config`; later versions do
  "${compose[@]}" config >/dev/null 2>&1 || fail "podman-compose config"
  log "podman-compose $pc_version config: valid"
fi

cleanup() {
  if [[ $KEEP == 1 ]]; then
    log "KEEP=1: left running; remove with: CONTAINERS_CONF=$conf CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF ${compose[*]} down -v"
    return
  fi
  down_all
}
# `down -v` in podman-compose 1.0.3 leaves the project's network and the anonymous
# volumes of the images' VOLUME lines (wharf's /data): remove those too.
down_all() {
  local c v anonymous=()
  for c in $(podman ps -a -q --filter "name=^${project}_" 2>/dev/null); do
    for v in $(podman inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}' "$c" 2>/dev/null); do
      [[ $v == "${project}_"* ]] || anonymous+=("$v")
    done
  done
  "${compose[@]}" down -v >/dev/null 2>&1 || true
  for v in "${anonymous[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  podman network rm -f "${project}_default" >/dev/null 2>&1 || true
}
dump_logs() {
  for s in etcd "${members[@]}" wharf-1 wharf-2; do
    podman logs "$(ctr "$s")" 2>&1 | tail -15 | sed "s/^/[$s] /" >&2 || true
  done
}
trap 'status=$?; if ((status)); then dump_logs; fi; cleanup' EXIT
down_all  # leftovers of an interrupted run

# 2. Images, through the file's build sections.
t=$SECONDS
build_log="$(mktemp)"
"${compose[@]}" build pg-1 >"$build_log" 2>&1 || { tail -30 "$build_log" >&2; fail "build wharf-patroni"; }
log "wharf-patroni:15 built in $((SECONDS - t)) s ($(podman image inspect -f '{{.Size}}' localhost/wharf-patroni:15) bytes)"
t=$SECONDS
"${compose[@]}" build wharf-1 >"$build_log" 2>&1 || { tail -30 "$build_log" >&2; fail "build wharf:postgresql"; }
rm -f "$build_log"
log "wharf:postgresql built in $((SECONDS - t)) s ($(podman image inspect -f '{{.Size}}' localhost/wharf:postgresql) bytes)"

# patronictl in a running member, as JSON: [{"Member": "pg-1", "Role": "Leader", ...}].
patroni_list() {
  local m
  for m in "${members[@]}"; do
    podman exec "$(ctr "$m")" patronictl list -f json 2>/dev/null && return 0
  done
  return 1
}
# Prints the member whose Role is $1 (Leader, "Sync Standby", Replica), if any.
member_with_role() {
  patroni_list | "$PY" -c 'import json,sys; r=[m["Member"] for m in json.load(sys.stdin) if m["Role"]==sys.argv[1] and m["State"] in ("running","streaming")]; print(r[0] if r else "")' "$1" 2>/dev/null
}
wait_for_roles() {  # $1 seconds; echoes "leader sync" once both exist
  local deadline=$((SECONDS + $1)) leader sync
  while ((SECONDS < deadline)); do
    leader="$(member_with_role Leader || true)"
    sync="$(member_with_role 'Sync Standby' || true)"
    if [[ -n $leader && -n $sync ]]; then echo "$leader $sync"; return 0; fi
    sleep 0.5
  done
  return 1
}

# 3. Up, a Leader and a Sync Standby, both nodes healthy.
log "podman-compose up -d"
t0_ns=$(date +%s%N); t0=$(now_ms)
"${compose[@]}" up -d >/dev/null 2>&1 || fail "podman-compose up"
log "up -d returned after $(($(now_ms) - t0)) ms"
read -r leader sync < <(wait_for_roles 120) || fail "no Leader and Sync Standby within 120 s"
log "Leader $leader, Sync Standby $sync $(($(now_ms) - t0)) ms after up"
for port in 9324 9325; do
  ms="$(timeout 150 "$PY" "$here/sqs_check.py" "http://127.0.0.1:$port" wait-health "$t0_ns" 140)" ||
    fail "no /health on localhost:$port"
  log "localhost:$port healthy ${ms} ms after up"
done
patroni_list | "$PY" -c 'import json,sys; [print("   %-5s %-13s %-9s lag %s" % (m["Member"], m["Role"], m["State"], m.get("Lag in MB", "-"))) for m in json.load(sys.stdin)]' >&2
ssn="$(podman exec "$(ctr "$leader")" psql -h /var/run/postgresql -U postgres -Atc 'SHOW synchronous_standby_names')"
log "on $leader: synchronous_standby_names = '$ssn', synchronous_commit = $(podman exec "$(ctr "$leader")" psql -h /var/run/postgresql -U postgres -Atc 'SHOW synchronous_commit')"
for s in wharf-1 wharf-2; do
  log "$s: $(podman inspect -f '{{.State.Status}}, restarted {{.RestartCount}} times' "$(ctr "$s")")"
done

# 4. Send on one node, receive on the other.
"$PY" "$here/sqs_check.py" http://127.0.0.1:9324 send cluster-check 3 >/dev/null || fail "send on :9324"
"$PY" "$here/sqs_check.py" http://127.0.0.1:9325 receive cluster-check 3 >/dev/null || fail "receive on :9325"
log "sent 3 on localhost:9324 (wharf-1), received them on localhost:9325 (wharf-2)"

# 5. Kill the leader's container under a steady stream of sends.
log "killing $leader's container while sending on :9324"
"$PY" - "$(ctr "$leader")" <<'PY' || fail "failover probe"
import subprocess, sys, time
import boto3
from botocore.config import Config

def client(port):
    s = boto3.session.Session(aws_access_key_id="AKIAWHARFTEST", aws_secret_access_key="wharf-secret",
                              region_name="us-east-1")
    return s.client("sqs", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                    config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=20))

sender, receiver = client(9324), client(9325)
url = sender.create_queue(QueueName="failover-probe")["QueueUrl"]
acked, attempts, failures, errors = [], 0, [], {}
killed_at = None
ok_after_kill = 0
deadline = time.monotonic() + 120
i = 0
while time.monotonic() < deadline:
    now = time.monotonic()
    if killed_at is None and len(acked) >= 20:
        subprocess.run(["podman", "kill", sys.argv[1]], check=True, stdout=subprocess.DEVNULL)
        killed_at = time.monotonic()
    body = "probe %d" % i
    i += 1
    attempts += 1
    start = time.monotonic()
    try:
        sender.send_message(QueueUrl=url, MessageBody=body)
        acked.append(body)
        if killed_at is not None:
            ok_after_kill += 1
            if ok_after_kill >= 20 and (not failures or failures[-1][1] < start):
                break
    except Exception as e:  # a refused or failed send: the outage as the client sees it
        failures.append((start, time.monotonic()))
        name = type(e).__name__
        code = getattr(e, "response", {}).get("Error", {}).get("Code") if hasattr(e, "response") else None
        errors[code or name] = errors.get(code or name, 0) + 1
        time.sleep(0.1)
        continue
    time.sleep(0.1)
if killed_at is None:
    sys.exit("never killed the leader (fewer than 20 sends before the deadline)")
if failures:
    first, last = failures[0][0], failures[-1][1]
    print("sends failed from %.1f s to %.1f s after the kill: an outage of %.1f s (%d of %d sends failed: %s)"
          % (first - killed_at, last - killed_at, last - first, len(failures), attempts, errors))
else:
    print("no send failed (%d sends)" % attempts)
print("first acknowledged send after the outage: %.1f s after the kill"
      % ((failures[-1][1] if failures else killed_at) - killed_at))
# Every acknowledged send must be there, once.
got = []
deadline = time.monotonic() + 60
while len(got) < len(acked) and time.monotonic() < deadline:
    for m in receiver.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        got.append(m["Body"])
        receiver.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
missing = set(acked) - set(got)
dups = len(got) - len(set(got))
print("acknowledged %d sends, received %d on :9325 (%d missing, %d duplicates)" % (len(acked), len(got), len(missing), dups))
if missing:
    sys.exit("acknowledged sends lost: %s" % sorted(missing)[:10])
PY
read -r new_leader new_sync < <(wait_for_roles 60) || fail "no new Leader and Sync Standby within 60 s"
[[ $new_leader != "$leader" ]] || fail "$leader is still the leader after its container was killed"
log "new Leader $new_leader (was $leader), Sync Standby $new_sync"
"$PY" "$here/sqs_check.py" http://127.0.0.1:9324 send cluster-check-2 3 >/dev/null || fail "send on :9324 after failover"
"$PY" "$here/sqs_check.py" http://127.0.0.1:9325 receive cluster-check-2 3 >/dev/null || fail "receive on :9325 after failover"
log "after the failover: sent 3 on :9324, received them on :9325"
# The killed member: podman 4.3 does not restart a container stopped by
# `podman kill` (restart: unless-stopped), so start it again as an operator would; Patroni rewinds it
# (pg_rewind) and it rejoins as a standby of the new leader.
state="$(podman inspect -f '{{.State.Status}}, restarted {{.RestartCount}} times' "$(ctr "$leader")")"
log "$leader's container after the kill: $state"
if [[ $state != running* ]]; then
  t=$(now_ms)
  podman start "$(ctr "$leader")" >/dev/null 2>&1 || fail "podman start $leader"
  deadline=$((SECONDS + 90)) role=""
  while ((SECONDS < deadline)); do
    role="$(patroni_list | "$PY" -c 'import json,sys; print(" ".join(m["Role"]+"/"+m["State"] for m in json.load(sys.stdin) if m["Member"]==sys.argv[1]))' "$leader" 2>/dev/null || true)"
    [[ $role == Replica/running || $role == "Sync Standby/running" || $role == */streaming ]] && break
    sleep 1
  done
  [[ $role == */running || $role == */streaming ]] || fail "$leader did not rejoin within 90 s (patronictl: ${role:-absent})"
  log "$leader started again: rejoined as ${role%/*} $(($(now_ms) - t)) ms later$(podman logs "$(ctr "$leader")" 2>&1 | grep -q 'running pg_rewind' && echo ' (after pg_rewind)')"
fi
patroni_list | "$PY" -c 'import json,sys; [print("   %-5s %-13s %-9s TL %s lag %s" % (m["Member"], m["Role"], m["State"], m.get("TL", "-"), m.get("Lag in MB", "-"))) for m in json.load(sys.stdin)]' >&2
echo "compose cluster check: passed (etcd + 3 Patroni members + 2 wharf nodes; send on 9324, receive on 9325; failover of $leader to $new_leader)"
