#!/usr/bin/env bash
# Installs the Debian 12 packages Wharf needs, only those missing; says
# nothing when none is.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --tests  also what the test suite needs
set -euo pipefail

packages=(g++ cmake make pkg-config libboost1.81-dev libboost-program-options1.81-dev
          librocksdb-dev nlohmann-json3-dev libspdlog-dev libssl-dev libgoogle-perftools-dev catch2)
why="the C++ compiler, CMake and the libraries Wharf is built with"
if [[ "${1:-}" == "--tests" ]]; then
  why+=", and the SDKs, AWS CLI, browser and PostgreSQL the tests drive"
  # python3-botocore carries the query-era SQS model the query-protocol tests use.
  packages+=(python3-botocore ca-certificates openssl clang-format)
  # the PostgreSQL backend's tests start their own PostgreSQL 15
  # (tests/pg/cluster.sh) and build against libpq.
  packages+=(postgresql-15 libpq-dev)
  # the crash test's patroni variant starts a Patroni group (deploy/patroni-group.sh).
  packages+=(patroni etcd-server python3-etcd)
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
  command -v aws >/dev/null || packages+=(awscli)
  python3 -c 'import boto3' 2>/dev/null || packages+=(python3-boto3)
  # the web console's browser tests (tests/browser) drive Debian's chromium.
  packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0

# apt's own output is the progress: a first install takes one to a few minutes.
echo "install-deps.sh: installing ${#missing[@]} missing Debian packages ($why):"
echo "  ${missing[*]}"
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps.sh: installed ${missing[*]}"
