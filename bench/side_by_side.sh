#!/usr/bin/env bash
# Side by side with llama.cpp: prompt processing (pp) and generation (tg) tokens/s of `mimic bench`
# and llama.cpp's `llama-bench` on the SAME model files, run alternately back to back, with the
# medians and their ratios, and generation's memory-bandwidth bound measured in the same run.
#
# The models are random weights at real shapes (Qwen2.5-0.5B, -1.5B and -3B, or the 1.5B widths
# with 4 layers for --small), written by mimic's own GGUF writer in F16 (or F32) and quantized by
# llama.cpp's own llama-quantize, so both engines read byte-identical files. Without LLAMA_CPP_DIR
# the files are quantized by `mimic quantize` and mimic runs alone (said so in the output):
# nothing in mimic depends on llama.cpp.
#
# usage: bench/side_by_side.sh [options]
#   --shapes LIST    1.5b,3b (default), or any of 0.5b,1.5b,3b,small
#   --small          shape 'small' only (the 1.5B widths, 4 layers), pp128/tg32, 2 repetitions:
#                    a quick try
#   --types LIST     q4_k_m (default); also q8_0, q4_0, q6_k (llama-quantize names, any case), and
#                    the float types f16, bf16, f32: the one --source names is the unquantized file
#                    itself; the others are converted like the quantized types
#   --threads LIST   1,2 (default)
#   --reps N         repetitions of each pair of runs (default 5); medians are reported
#   -p N, -n N       prompt tokens and generated tokens (default 512 and 128)
#   --depth N        KV depth at which generation starts, for both engines (default 0, as
#                    llama-bench's tg128; N > 0 passes -d N to llama-bench)
#   --source f16|f32 the unquantized file mimic writes (default f16)
#   --dir DIR        where the model files are cached (default /tmp/mimic-side-by-side)
#   --mimic PATH     the mimic binary (default build/mimic; build it with CMAKE_BUILD_TYPE=Release)
# env: LLAMA_CPP_DIR  directory holding llama-bench and llama-quantize (e.g. llama.cpp/build/bin)
#      TOKENIZER      a GGUF whose tokenizer the models copy (default the Qwen2 vocabulary in
#                     ../shared/testdata/tokenizer), padded to Qwen2.5's 151,936 tokens
set -euo pipefail

shapes=1.5b,3b types=q4_k_m threads=1,2 reps=5 np=512 ng=128 depth=0 src=f16
dir=/tmp/mimic-side-by-side mimic=build/mimic
tokenizer=${TOKENIZER:-../shared/testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf}
while [ $# -gt 0 ]; do
  case $1 in
    --shapes) shapes=$2; shift 2 ;;
    --small) shapes=small np=128 ng=32 reps=2; shift ;;
    --types) types=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -p) np=$2; shift 2 ;;
    -n) ng=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --source) src=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --mimic) mimic=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "side_by_side: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "side_by_side: $*" >&2; exit 1; }
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
[ -x "$mimic" ] || die "no mimic binary at $mimic (build it, or pass --mimic PATH)"
[ -f "$tokenizer" ] || die "no tokenizer file at $tokenizer (set TOKENIZER)"
case $src in f16|f32) ;; *) die "--source is f16 or f32" ;; esac
peer=""
if [ -n "${LLAMA_CPP_DIR:-}" ]; then
  for b in llama-bench llama-quantize; do
    [ -x "$LLAMA_CPP_DIR/$b" ] || die "LLAMA_CPP_DIR=$LLAMA_CPP_DIR has no $b"
  done
  peer=$LLAMA_CPP_DIR
else
  echo "LLAMA_CPP_DIR is not set: mimic runs alone (files quantized by mimic quantize)."
fi
mkdir -p "$dir"

# shape -> make-random arguments (Qwen2.5 configs: width, layers, heads, kv heads, ff; tied embeddings)
shape_args() {
  case $1 in
    0.5b) echo "--width 896 --layers 24 --heads 14 --kv-heads 2 --ff 4864" ;;
    1.5b) echo "--width 1536 --layers 28 --heads 12 --kv-heads 2 --ff 8960" ;;
    3b) echo "--width 2048 --layers 36 --heads 16 --kv-heads 2 --ff 11008" ;;
    small) echo "--width 1536 --layers 4 --heads 12 --kv-heads 2 --ff 8960" ;;
    *) die "unknown shape $1 (0.5b, 1.5b, 3b, small)" ;;
  esac
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

results=$dir/results.$$.tsv
: > "$results"
for shape in ${shapes//,/ }; do
  base=$dir/qwen2.5-$shape-random-$src.gguf
  if [ ! -f "$base" ]; then
    echo "writing $base ..."
    # shellcheck disable=SC2046
    "$mimic" model make-random "$base.tmp" $(shape_args "$shape") --vocab 151936 --ctx 32768 \
      --type "$src" --tokenizer "$tokenizer" --seed 1 >/dev/null
    mv "$base.tmp" "$base"
  fi
  for type in ${types//,/ }; do
    T=$(echo "$type" | tr '[:lower:]' '[:upper:]') t=$(echo "$type" | tr '[:upper:]' '[:lower:]')
    file=$dir/qwen2.5-$shape-random-$t-$( [ -n "$peer" ] && echo llama || echo mimic )q.gguf
    if [ "$t" = "$src" ]; then file=$base; fi # the float source itself, as both engines read it
    if [ ! -f "$file" ]; then
      echo "quantizing $file ..."
      if [ -n "$peer" ]; then
        "$peer/llama-quantize" "$base" "$file.tmp" "$T" >"$dir/quantize.log" 2>&1 ||
          die "llama-quantize failed (see $dir/quantize.log)"
      else
        "$mimic" quantize "$base" "$file.tmp" "$t" >/dev/null
      fi
      mv "$file.tmp" "$file"
    fi
    for th in ${threads//,/ }; do
      for r in $(seq 1 "$reps"); do
        echo "$shape $t ${th}t: run $r of $reps" >&2
        # Alternate which engine goes first, so neither always runs on a cooler machine.
        for who in $( [ $((r % 2)) -eq 1 ] && echo "mimic llama" || echo "llama mimic"); do
          if [ "$who" = mimic ]; then
            j=$("$mimic" bench -m "$file" -t "$th" --prompt-tokens "$np" -n "$ng" --reps 1 \
              --gen-depth "$depth" --bandwidth --json)
            pp=$(jq -r .pp_tokens_per_s <<<"$j") tg=$(jq -r .tg_tokens_per_s <<<"$j")
            printf '%s\t%s\t%s\tmimic\t%s\t%s\t%s\t%s\t%s\n' "$shape" "$t" "$th" "$pp" "$tg" \
              "$(jq -r .read_gb_per_s <<<"$j")" "$(jq -r .tg_bound_tokens_per_s <<<"$j")" \
              "$(jq -r .weights_gb_per_token <<<"$j")" >>"$results"
          elif [ -n "$peer" ]; then
            dflag=()
            [ "$depth" -gt 0 ] && dflag=(-d "$depth")
            j=$("$peer/llama-bench" -m "$file" -t "$th" -p "$np" -n "$ng" "${dflag[@]}" -r 1 \
              -o json 2>/dev/null)
            pp=$(jq -r '[.[] | select(.n_prompt > 0) | .avg_ts][0]' <<<"$j")
            tg=$(jq -r '[.[] | select(.n_gen > 0) | .avg_ts][0]' <<<"$j")
            printf '%s\t%s\t%s\tllama\t%s\t%s\n' "$shape" "$t" "$th" "$pp" "$tg" >>"$results"
          fi
        done
      done
    done
  done
done

# The table: medians per (shape, type, threads), then the ratios mimic / llama.cpp.
col() { awk -F'\t' -v s="$1" -v t="$2" -v h="$3" -v w="$4" -v c="$5" \
  '$1==s && $2==t && $3==h && $4==w {print $c}' "$results" | median; }
echo
echo "median of $reps runs each, alternating; pp$np, tg$ng at KV depth $depth; $(date -u +%F' '%H:%M) UTC"
printf '%-5s %-7s %3s | %-9s %9s %9s %6s | %-26s\n' shape type thr test llama.cpp mimic ratio \
  "tg bound (read GB/s)"
for shape in ${shapes//,/ }; do
  for type in ${types//,/ }; do
    t=$(echo "$type" | tr '[:upper:]' '[:lower:]')
    for th in ${threads//,/ }; do
      mpp=$(col "$shape" "$t" "$th" mimic 5) mtg=$(col "$shape" "$t" "$th" mimic 6)
      bw=$(col "$shape" "$t" "$th" mimic 7) bound=$(col "$shape" "$t" "$th" mimic 8)
      lpp=nan ltg=nan
      if [ -n "$peer" ]; then
        lpp=$(col "$shape" "$t" "$th" llama 5) ltg=$(col "$shape" "$t" "$th" llama 6)
      fi
      awk -v s="$shape" -v t="$t" -v h="$th" -v np="$np" -v ng="$ng" -v lpp="$lpp" -v mpp="$mpp" \
        -v ltg="$ltg" -v mtg="$mtg" -v bw="$bw" -v bound="$bound" 'BEGIN {
          rp = (lpp == "nan" || lpp == 0) ? "-" : sprintf("%.2f", mpp / lpp)
          rt = (ltg == "nan" || ltg == 0) ? "-" : sprintf("%.2f", mtg / ltg)
          lp = (lpp == "nan") ? "-" : sprintf("%.1f", lpp)
          lt = (ltg == "nan") ? "-" : sprintf("%.1f", ltg)
          mb = (bound > 0) ? 100 * mtg / bound : 0
          lb = (ltg == "nan" || bound == 0) ? "" : sprintf(", llama.cpp %.0f%%", 100 * ltg / bound)
          printf("%-5s %-7s %3s | pp%-7s %9s %9.1f %6s |\n", s, t, h, np, lp, mpp, rp)
          printf("%-5s %-7s %3s | tg%-7s %9s %9.1f %6s | %.1f t/s (%.1f GB/s): mimic %.0f%%%s\n",
                 s, t, h, ng, lt, mtg, rt, bound, bw, mb, lb)
        }'
    done
  done
done
echo "raw runs: $results"
