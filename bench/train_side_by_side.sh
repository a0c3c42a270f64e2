#!/bin/sh
# mimic's LoRA training against PyTorch's on the same shapes, in the same run, alternately.
#
# Both train LoRA rank 16 (alpha 32) on all seven matrices (q, k, v, o, gate, up, down) of a
# qwen2 decoder of random weights: Qwen2.5-0.5B's shape (width 896, 24 layers, 14/2 heads, ff 4864)
# with its vocabulary of 151,936 (and, with --small-vocab too, bench_train's own smaller one), one
# packed sequence of --seq tokens (4 samples), AdamW. mimic trains over a random Q4_K_M base
# (bench_train --only lora); PyTorch (bench/train_peer.py) over a float32 base, then a bfloat16 one.
# Prints tokens/s, % of the FMA peak that bench_train measures (the same step FLOPs credited to
# both), peak RSS, and the ratios mimic / PyTorch.
#
# PyTorch is a benchmark peer only (nothing in mimic depends on it): Debian's python3-torch with
# libopenblas0-openmp (without it torch uses the reference BLAS and runs ~35x slower).
#
# --recompute-ffn runs mimic with gate/up recomputed by the backward pass (less memory);
# --f32-activations with its activations kept in float32 (not as halves: more memory, as before).
# --no-bf16 skips PyTorch's bfloat16 run (without AMX, Debian's torch takes many minutes a step).
#
# Usage: bench/train_side_by_side.sh [--threads N] [--seq T] [--steps N] [--rounds N]
#                                    [--small-vocab] [--recompute-ffn] [--f32-activations]
#                                    [--no-bf16] [--build DIR]
set -eu
threads=2 seq=512 steps=3 rounds=2 small=0 build=build extra= bf16=1
while [ $# -gt 0 ]; do
  case "$1" in
  --threads) threads=$2; shift 2 ;;
  --seq) seq=$2; shift 2 ;;
  --steps) steps=$2; shift 2 ;;
  --rounds) rounds=$2; shift 2 ;;
  --small-vocab) small=1; shift ;;
  --recompute-ffn) extra="$extra --recompute-ffn"; shift ;;
  --f32-activations) extra="$extra --f32-activations"; shift ;;
  --no-bf16) bf16=0; shift ;;
  --build) build=$2; shift 2 ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "PyTorch is missing. Install the peer (benchmark only):"
  echo "  apt-get install -y python3-torch libopenblas0-openmp"
  exit 1
fi
if ! ls /usr/lib/*/openblas-openmp/libblas.so.3 >/dev/null 2>&1 &&
  ! ls /usr/lib/*/openblas-pthread/libblas.so.3 >/dev/null 2>&1; then
  echo "OpenBLAS is missing: torch would use the reference BLAS (~35x slower). Install it:"
  echo "  apt-get install -y libopenblas0-openmp"
  exit 1
fi
bt="$build/bench_train"
if [ ! -x "$bt" ]; then
  echo "$bt is missing: cmake --build $build --target bench_train (a Release build)"
  exit 1
fi
[ -n "${MIMIC_SHARED:-}" ] || MIMIC_SHARED=$(cd "$here/.." && pwd)/../shared
export MIMIC_SHARED
tmp=$(mktemp -d /tmp/train-sbs-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

field() { # field KEY FILE: the value of KEY= on the file's RESULT line
  sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" "$2" | tail -1
}

run_case() { # run_case VOCAB LABEL
  V=$1
  base="$tmp/base-$V.gguf"
  if [ "$V" = small ]; then
    "$bt" --threads "$threads" --write-base "$base" >/dev/null
  else
    "$bt" --threads "$threads" --write-base "$base" --vocab "$V" >/dev/null
  fi
  echo "== $2, seq $seq, $threads threads, LoRA r16 on q,k,v,o,gate,up,down =="
  r=1
  while [ "$r" -le "$rounds" ]; do
    "$bt" --threads "$threads" --only lora --base "$base" --seq "$seq" --steps "$steps" $extra \
      >"$tmp/mimic.$r" 2>&1
    vocab=$(sed -n 's/.*LoRA r16 L[0-9]* E[0-9]* V\([0-9]*\).*/\1/p' "$tmp/mimic.$r" | head -1)
    "$py" "$here/train_peer.py" --dtype f32 --threads "$threads" --seq "$seq" --steps "$steps" \
      --vocab "$vocab" >"$tmp/f32.$r" 2>&1
    if [ "$bf16" = 1 ]; then
      "$py" "$here/train_peer.py" --dtype bf16 --threads "$threads" --seq "$seq" --steps "$steps" \
        --vocab "$vocab" >"$tmp/bf16.$r" 2>&1
    else
      echo "RESULT what=torch-bf16 tokens_per_s=0 rss_mib=0 step_s=0 (skipped)" >"$tmp/bf16.$r"
    fi
    for f in "$tmp/mimic.$r" "$tmp/f32.$r" "$tmp/bf16.$r"; do
      grep -q '^RESULT' "$f" || { echo "a run failed ($f):"; tail -5 "$f"; }
    done
    r=$((r + 1))
  done
  peak=$(field peak_gflops "$tmp/mimic.1")
  # the step's FLOPs as bench_train counts them (train_model_flops), credited to both engines
  fl=$(awk -v g="$(field gflops "$tmp/mimic.1")" -v s="$(field step_s "$tmp/mimic.1")" \
    'BEGIN { print g * s * 1e9 }')
  printf '%-22s %10s %10s %10s %12s\n' "" "tokens/s" "% of peak" "peak RSS" "vs torch f32"
  best() { # best PREFIX: the best tokens/s and its RSS over the rounds
    for f in "$tmp/$1".*; do
      echo "$(field tokens_per_s "$f") $(field rss_mib "$f")"
    done | awk 'NF == 2' | sort -n -r | head -1 | grep . || echo "0 0"
  }
  set -- $(best mimic)
  mt=$1 mr=$2
  set -- $(best f32)
  ft=$1 fr=$2
  set -- $(best bf16)
  bt16=$1 br=$2
  { echo "mimic (Q4_K_M base)|$mt|$mr"; echo "torch float32|$ft|$fr"
    [ "$bf16" = 1 ] && echo "torch bfloat16|$bt16|$br"; } |
  while IFS= read -r row; do
    echo "$row" | awk -F'|' -v fl="$fl" -v T="$seq" -v pk="$peak" -v ft="$ft" '{
      pct = $2 > 0 && pk > 0 ? 100 * fl / (T / $2) / 1e9 / pk : 0
      printf "%-22s %10.1f %9.1f%% %7.0f MiB %11.2fx\n", $1, $2, pct, $3, (ft > 0 ? $2 / ft : 0) }'
  done
  [ "$bf16" = 1 ] &&
    echo "$mt $bt16" | awk '{ printf "mimic / torch bfloat16: %.2fx\n", ($2 > 0 ? $1 / $2 : 0) }'
  echo "(FMA peak $peak GFLOP/s, from bench_train; best of $rounds alternating rounds, $steps steps each)"
  echo
}

run_case 151936 "Qwen2.5-0.5B shape, vocabulary 151,936"
[ "$small" = 1 ] && run_case small "Qwen2.5-0.5B shape, bench_train's own vocabulary"
exit 0
