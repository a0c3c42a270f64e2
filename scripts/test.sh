#!/usr/bin/env bash
# The test command: installs the Debian packages, builds mimic with AddressSanitizer and
# UndefinedBehaviorSanitizer, runs the lint, then every test through ctest (its summary line ends
# the output). Tests that need ../shared skip cleanly where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/lint.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMIMIC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
ctest --output-on-failure -j"$jobs" "$@"
