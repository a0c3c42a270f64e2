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
  libpng-dev            # image decoding (vision): PNG
  libjpeg62-turbo-dev   # JPEG (libjpeg-turbo)
  libwebp-dev           # WebP (and libwebpdemux for animated WebP)
  libgif-dev            # GIF (giflib)
  tzdata                # the scheduler's time zones (/usr/share/zoneinfo)
  nodejs node-ws        # the Discord double used by the tests (independent WebSocket implementation)
  libargon2-dev         # the dashboard's password hash (Argon2id)
  libjs-chart.js libjs-bootstrap5  # the dashboard's charts and styling, served from /usr/share/javascript
  chromium              # browser tests of the dashboard (puppeteer-core from npm, see tests/web)
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
# The dashboard's browser tests drive Chromium with puppeteer-core, pinned by tests/web's
# package-lock.json and installed into tests/web/node_modules (ignored by git). Without network the
# browser test skips; nothing else needs it.
web_test_modules() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/web"
  # npm comes with NodeSource's nodejs; Debian's nodejs needs its npm package.
  command -v npm >/dev/null 2>&1 || $SUDO apt-get install -y -qq --no-install-recommends npm ||
    true
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules/puppeteer-core" ] &&
    command -v npm >/dev/null 2>&1; then
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null) ||
      echo "install-deps: npm ci in tests/web failed; the browser test will skip" >&2
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  web_test_modules
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
web_test_modules
