#!/usr/bin/env bash
# Configures and builds one build directory, for run-server.sh and
# run-tests.sh (each has its own, so switching between them rebuilds
# nothing):
#   scripts/build.sh DIR [CMAKE_OPTION...] [-- BUILD_OPTION...]
# The static link of wharf makes GNU ld repeat glibc's warnings that
# OpenSSL's libcrypto.a uses dlopen, getaddrinfo and gethostbyname, which a
# static program can only use with the shared libraries of the same glibc.
# Wharf never reaches them (it loads no modules and resolves no host
# names; see WHARF_STATIC in CMakeLists.txt), and ld has no option that
# silences just these, so exactly these lines are left out here, with one
# line that says so. Everything else the compiler and linker print passes.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
configure=()
build=()
while (($#)); do
  if [[ $1 == -- ]]; then
    shift
    build=("$@")
    break
  fi
  configure+=("$1")
  shift
done

cmake -S . -B "$dir" "${configure[@]}" >/dev/null
# ld prints each as two lines: "<archive>(<object>): in function `f':",
# then the warning. Only libcrypto.a's are left out.
cmake --build "$dir" -j"$(nproc)" "${build[@]}" 2>&1 | awk '
  function flush_held() { if (held != "") print held; held = "" }
  /: in function `[^`]*'"'"':$/ { flush_held(); held = $0; fflush(); next }
  held ~ /libcrypto\.a\(/ && /warning: Using '"'"'(dlopen|getaddrinfo|gethostbyname)'"'"' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking$/ {
    held = ""; left_out++; next
  }
  { flush_held(); print; fflush() }
  END {
    flush_held()
    if (left_out) print "build.sh: left out " left_out " expected glibc warnings of the static link (libcrypto.a uses dlopen, getaddrinfo, gethostbyname; wharf never calls them)"
  }'
