#!/usr/bin/env bash
# Installs every Debian (bookworm) package mimic needs to build, test and run.
# Works as root or through sudo; safe to run again (apt-get skips what is installed).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  clang-format          # the lint checks every C file against .clang-format
  libjansson-dev        # JSON
  libuv1-dev            # the I/O loop
  libcurl4-openssl-dev  # REST and OpenAI-compatible backends
  libssl-dev            # TLS for the gateway WebSocket
  ca-certificates       # the trust store wss:// and https:// verify Discord against
  openssl               # tests make throwaway TLS certificates for the wss:// double
  zlib1g-dev            # gateway zlib-stream
  libsqlite3-dev        # the store (WAL, FTS5)
  libpcre2-dev          # tokenizer pre-splitting
  libmicrohttpd-dev     # dashboard, health and metrics
  tzdata                # the scheduler's time zones (/usr/share/zoneinfo)
  nodejs node-ws        # the Discord double used by the tests (independent WebSocket implementation)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
