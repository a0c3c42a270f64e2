#!/usr/bin/env bash
# Checks that the files of each layer form a stack: no file calls a function of another file of the
# same layer that calls it back, directly or through others (docs/architecture.md, "No circles
# inside a layer"). It reads the symbols of each layer's static library with nm: file A depends on
# file B when A uses a symbol B defines. Exits 1 naming each circle and the symbols that close it.
# Usage: scripts/circles.sh LIB.a...   (ctest runs it over the built libmimic_*.a)
set -euo pipefail
fail=0
for lib in "$@"; do
  out=$(nm -A "$lib" 2>/dev/null | awk -v lib="$(basename "$lib")" '
    {
      n = split($0, part, ":")
      obj = part[2]
      m = split(part[3], f, " ")
      if (m == 3 && f[2] ~ /^[TDBR]$/) def[f[3]] = obj
      else if (m == 2 && f[1] == "U") { nu++; ufile[nu] = obj; usym[nu] = f[2] }
    }
    function visit(v,    i, w) {
      state[v] = 1
      stack[++depth] = v
      for (i = 1; i <= nedge[v]; i++) {
        w = edge[v, i]
        if (state[w] == 1) { report(w); continue }
        if (state[w] == 0) visit(w)
      }
      depth--
      state[v] = 2
    }
    function report(w,    i, s, start) {
      for (i = 1; i <= depth; i++) if (stack[i] == w) start = i
      s = ""
      for (i = start; i <= depth; i++) s = s stack[i] " -> "
      s = s w
      if (!(s in seen)) { seen[s] = 1; print lib ": circle: " s; bad = 1 }
    }
    END {
      for (i = 1; i <= nu; i++) {
        d = def[usym[i]]
        if (d == "" || d == ufile[i]) continue
        k = ufile[i] SUBSEP d
        if (k in has) continue
        has[k] = 1
        nedge[ufile[i]]++
        edge[ufile[i], nedge[ufile[i]]] = d
        node[ufile[i]] = 1
        node[d] = 1
      }
      for (v in node) if (state[v] == 0) visit(v)
      exit bad
    }') || { echo "$out" >&2; fail=1; continue; }
done
if ((fail)); then
  echo "circles: the files above call each other back; make them a stack" >&2
  exit 1
fi
echo "circles: none in $# libraries"
