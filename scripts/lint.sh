#!/usr/bin/env bash
# The lint: what the compiler cannot check about mimic's architecture and style, enforced.
#  1. Layering (docs/architecture.md): a file in src/<layer>/ includes headers only from its own
#     layer and the layers below it (LAYER_DEPS); never up, never sideways.
#  2. Internal headers (*_int.h) are included only by their own layer (src/<layer>/ and its white-box
#     tests in tests/<layer>/; fuzz targets and benchmarks may reach in).
#  3. Banned libc calls (STYLE.md): sprintf, vsprintf, strcpy, strcat, strtok, atoi, atol, atoll,
#     gets. Use snprintf, buf_*, str_lcpy, str_to_* instead.
#  4. Every C file is in the committed .clang-format style (skipped, with a note, where clang-format is
#     not installed; scripts/install-deps.sh installs it).
# Usage: scripts/lint.sh [ROOT]   (ROOT defaults to the repository; the lint's own test points it at
# a small tree with a deliberate mistake). Exits 1 with one line per finding.
set -euo pipefail
root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
cd "$root"

# The layer graph: each layer and the layers it may include (besides itself and base, which every
# layer may use). Keep in step with docs/architecture.md.
declare -A LAYER_DEPS=(
  [base]=""
  [store]=""
  [llm]=""
  [discord]=""
  [embed]="llm"
  [vision]="llm"
  [train]="llm"
  [eval]="llm store embed"
  [collect]="store llm discord"
  [lore]="store llm embed"
  [bot]="store llm embed vision discord collect lore"
  [web]="store"
  [cli]="store llm embed vision discord train eval collect lore bot web"
)

fail=0
say() {
  echo "lint: $*" >&2
  fail=1
}

# 1 and 2: includes.
while IFS= read -r f; do
  layer=${f#src/}
  layer=${layer%%/*}
  if [[ -z ${LAYER_DEPS[$layer]+x} ]]; then
    say "$f: src/$layer/ is not a known layer (add it to LAYER_DEPS and docs/architecture.md)"
    continue
  fi
  allowed=" $layer base ${LAYER_DEPS[$layer]} "
  while IFS=: read -r line inc; do
    dep=${inc%%/*}
    if [[ $allowed != *" $dep "* ]]; then
      say "$f:$line: includes \"$inc\": $layer may not depend on $dep (allowed: ${allowed# })"
    elif [[ $dep != "$layer" && $inc == *_int.h ]]; then
      say "$f:$line: includes \"$inc\": an internal header of another layer"
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]+/[^"]+"' "$f" |
    sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done < <(find src -type f \( -name '*.c' -o -name '*.h' \) | sort)

if [[ -d tests ]]; then
  while IFS= read -r f; do
    tlayer=${f#tests/}
    tlayer=${tlayer%%/*}
    [[ $tlayer == fuzz ]] && continue
    while IFS=: read -r line inc; do
      dep=${inc%%/*}
      [[ $dep == "$tlayer" ]] || say "$f:$line: includes \"$inc\": an internal header of another layer"
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]+/[^"]*_int\.h"' "$f" |
      sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
  done < <(find tests -mindepth 2 -path '*/node_modules' -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print | sort)
fi

# 3: banned calls (comment lines are ignored).
pattern='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets)[[:space:]]*\('
dirs=()
for d in src tests bench; do [[ -d $d ]] && dirs+=("$d"); done
if hits=$(grep -rnE "$pattern" "${dirs[@]}" --include='*.c' --include='*.h' --exclude-dir=node_modules |
  grep -vE '^\S+:[0-9]+:\s*(/\*|\*|//)'); then
  while IFS= read -r h; do say "$h: banned call (see scripts/lint.sh)"; done <<<"$hits"
fi

# 4: formatting.
if command -v clang-format >/dev/null 2>&1 && [[ -f .clang-format ]]; then
  # One clang-format process for every file; its findings name the files ("path:line:col: error").
  while IFS= read -r f; do
    say "$f: not in .clang-format style (run: clang-format -i $f)"
  done < <(find "${dirs[@]}" -path '*/node_modules' -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print0 |
    xargs -0 clang-format --dry-run --Werror 2>&1 | sed -nE 's/^([^:]+):[0-9]+:[0-9]+: error:.*/\1/p' |
    sort -u)
else
  echo "lint: clang-format not installed or no .clang-format: formatting not checked" >&2
fi

if ((fail)); then
  echo "lint: failed" >&2
  exit 1
fi
echo "lint: ok"
