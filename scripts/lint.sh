#!/usr/bin/env bash
# Bans unsafe libc calls in shipped code and tests (STYLE.md): sprintf, vsprintf, strcpy, strcat,
# strtok, atoi, atol, gets. Use snprintf, buf_*, str_lcpy, str_to_* instead.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets)[[:space:]]*\('
if grep -rnE "$pattern" src tests bench --include='*.c' --include='*.h' | grep -vE '^\S+:[0-9]+:\s*(/\*|\*|//)'; then
  echo "lint: banned function used (see scripts/lint.sh)" >&2
  exit 1
fi
echo "lint: ok"
