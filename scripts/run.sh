#!/usr/bin/env bash
# The main job on a fresh machine: installs the Debian packages, builds mimic (release), and runs
# it on its embedded defaults: the offline demo when it is built, else the bot (`mimic run`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIMIC_SANITIZE=OFF >/dev/null
cmake --build build -j"$jobs" --target mimic
if ./build/mimic help | grep -q '^  demo '; then
  exec ./build/mimic demo "$@"
fi
exec ./build/mimic run "$@"
