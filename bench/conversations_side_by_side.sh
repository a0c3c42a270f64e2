#!/usr/bin/env bash
# Conversations arriving together, side by side with llama-server: N distinct prompts of about P
# tokens sent at once, G tokens generated for each (greedy, end of generation ignored), on the SAME
# model file. Prints, per engine, the wall time until every reply is complete, the time to the last
# first token and the mean, and the peak resident memory; and the ratios. mimic runs through
# build/bench_conversations (the local engine, N slots) with its mixed steps and, with --serial-too,
# also without them (one prompt chunk per turn: the engine before); llama-server runs with -np N,
# the same total context (N x per-slot context), on 127.0.0.1 only, and gets the same prompts
# (bench_conversations --dump-prompts). Runs alternate which engine goes first.
#
# Without LLAMA_CPP_DIR mimic runs alone (said so): nothing in mimic depends on llama.cpp.
#
# usage: bench/conversations_side_by_side.sh [options]
#   --model FILE      the GGUF file (default /tmp/mimic-side-by-side/qwen2.5-3b-random-q4_k_m-llamaq.gguf,
#                     written by bench/side_by_side.sh --shapes 3b)
#   --conversations N (default 8)
#   -p N              prompt tokens per conversation, about (default 200)
#   -n N              generated tokens per conversation (default 64)
#   --threads N       (default 2)
#   --kv f16|f32      KV cache type for both (default f16, llama.cpp's default)
#   --reps N          rounds per engine (default 3); medians are reported
#   --serial-too      also run mimic without mixed steps
#   --bench PATH      the bench_conversations binary (default build/bench_conversations; build it
#                     with `cmake --build build --target bench_conversations`, Release)
#   --port N          llama-server's port on 127.0.0.1 (default 18093)
# env: LLAMA_CPP_DIR  directory holding llama-server (e.g. llama.cpp/build/bin)
set -euo pipefail

model=/tmp/mimic-side-by-side/qwen2.5-3b-random-q4_k_m-llamaq.gguf
conv=8 np=200 ng=64 threads=2 kv=f16 reps=3 serial=0 bench=build/bench_conversations port=18093
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --conversations) conv=$2; shift 2 ;;
    -p) np=$2; shift 2 ;;
    -n) ng=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --kv) kv=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --serial-too) serial=1; shift ;;
    --bench) bench=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "conversations_side_by_side: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "conversations_side_by_side: $*" >&2; exit 1; }
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
[ -x "$bench" ] || die "no bench_conversations at $bench (cmake --build build --target bench_conversations)"
[ -f "$model" ] || die "no model at $model (bench/side_by_side.sh --shapes 3b writes it, or pass --model)"
case $kv in f16|f32) ;; *) die "--kv is f16 or f32" ;; esac
peer=""
if [ -n "${LLAMA_CPP_DIR:-}" ]; then
  [ -x "$LLAMA_CPP_DIR/llama-server" ] || die "LLAMA_CPP_DIR=$LLAMA_CPP_DIR has no llama-server"
  command -v curl >/dev/null || die "needs curl for llama-server"
  peer=$LLAMA_CPP_DIR
else
  echo "LLAMA_CPP_DIR is not set: mimic runs alone."
fi

work=$(mktemp -d /tmp/mimic-conv-sbs.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ctx=$(( (np + np / 4 + ng + 64 + 63) / 64 * 64 ))  # per slot, as bench_conversations picks it
results=$work/results.tsv
: > "$results"
now() { date +%s.%N; }

run_mimic() { # $1: extra flag ("" or --serial), $2: label
  local j
  # shellcheck disable=SC2086
  j=$("$bench" --model "$model" --conversations "$conv" --prompt-tokens "$np" -n "$ng" \
    --threads "$threads" --ctx "$ctx" --kv "$kv" --reps 1 --json $1 2>/dev/null | tail -n 1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$(jq -r .wall_s <<<"$j")" "$(jq -r .last_first_token_s <<<"$j")" \
    "$(jq -r .mean_first_token_s <<<"$j")" "$(jq -r .peak_rss_mib <<<"$j")" >>"$results"
}

start_server() {
  local ctk=()
  [ "$kv" = f32 ] && ctk=(-ctk f32 -ctv f32)
  "$peer/llama-server" -m "$model" -np "$conv" -c $((conv * ctx)) -t "$threads" -tb "$threads" \
    --host 127.0.0.1 --port "$port" --no-webui "${ctk[@]}" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || die "llama-server exited (see its log: $(tail -n 3 "$work/server.log"))"
    sleep 0.5
  done
  die "llama-server did not become ready"
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# One round against llama-server: every prompt posted at once; a conversation's first token comes
# when its request has run for its total time minus its generation time (timings.predicted_ms).
run_llama() {
  start_server
  curl -sf "http://127.0.0.1:$port/completion" -H 'Content-Type: application/json' \
    -d '{"prompt": "warm up", "n_predict": 2}' >/dev/null # page the weights in, as mimic's warm-up
  local t0 i=0 pids=()
  t0=$(now)
  while IFS= read -r line; do
    jq -c --argjson n "$ng" '. + {n_predict: $n, ignore_eos: true, temperature: 0, cache_prompt: false}' \
      <<<"$line" >"$work/req.$i.json"
    ( s=$(now)
      curl -sf "http://127.0.0.1:$port/completion" -H 'Content-Type: application/json' \
        -d @"$work/req.$i.json" -o "$work/resp.$i.json" -w '%{time_total}\n' >"$work/time.$i"
      echo "$s" >"$work/start.$i"; now >"$work/end.$i" ) &
    pids+=($!)
    i=$((i + 1))
  done <"$work/prompts.jsonl"
  wait "${pids[@]}" 2>/dev/null || true
  local hwm
  hwm=$(awk '/^VmHWM:/ {print $2 / 1024}' "/proc/$server_pid/status")
  stop_server
  local wall=0 last=0 sum=0 k
  for k in $(seq 0 $((i - 1))); do
    [ -s "$work/resp.$k.json" ] || die "llama-server request $k failed (log: $work/server.log)"
    local s e tt pm f
    s=$(cat "$work/start.$k") e=$(cat "$work/end.$k") tt=$(cat "$work/time.$k")
    pm=$(jq -r .timings.predicted_ms "$work/resp.$k.json")
    f=$(awk -v s="$s" -v t0="$t0" -v tt="$tt" -v pm="$pm" 'BEGIN {print s - t0 + tt - pm / 1000}')
    wall=$(awk -v a="$wall" -v b="$(awk -v e="$e" -v t0="$t0" 'BEGIN {print e - t0}')" 'BEGIN {print (a > b ? a : b)}')
    last=$(awk -v a="$last" -v b="$f" 'BEGIN {print (a > b ? a : b)}')
    sum=$(awk -v a="$sum" -v b="$f" 'BEGIN {print a + b}')
  done
  printf 'llama-server\t%s\t%s\t%s\t%s\n' "$wall" "$last" "$(awk -v s="$sum" -v n="$i" 'BEGIN {print s / n}')" \
    "$hwm" >>"$results"
}

"$bench" --model "$model" --conversations "$conv" --prompt-tokens "$np" -n 1 --ctx "$ctx" \
  --kv "$kv" --threads "$threads" --dump-prompts "$work/prompts.jsonl" >/dev/null 2>&1 ||
  die "bench_conversations could not run on $model"
echo "$conv conversations, prompts of ~$np tokens + $ng generated each, $threads threads, $kv KV, ctx $ctx per slot"
for r in $(seq 1 "$reps"); do
  echo "round $r of $reps" >&2
  order="mimic llama"
  [ $((r % 2)) -eq 0 ] && order="llama mimic"
  for who in $order; do
    if [ "$who" = mimic ]; then
      run_mimic "" mimic
      [ "$serial" = 1 ] && run_mimic --serial "mimic-serial"
    elif [ -n "$peer" ]; then
      run_llama
    fi
  done
done

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -F'\t' -v w="$1" -v c="$2" '$1==w {print $c}' "$results" | median; }
echo
echo "median of $reps rounds each, alternating; $(date -u +%F' '%H:%M) UTC"
printf '%-14s %10s %18s %18s %14s\n' engine "wall (s)" "last first tok (s)" "mean first tok (s)" "peak RSS (MiB)"
for who in llama-server mimic mimic-serial; do
  grep -q "^$who	" "$results" || continue
  printf '%-14s %10.2f %18.2f %18.2f %14.0f\n' "$who" "$(col "$who" 2)" "$(col "$who" 3)" "$(col "$who" 4)" "$(col "$who" 5)"
done
if grep -q '^llama-server	' "$results"; then
  awk -v a="$(col llama-server 2)" -v b="$(col mimic 2)" -v c="$(col llama-server 3)" -v d="$(col mimic 3)" \
    'BEGIN {printf "mimic / llama-server: wall %.2f, last first token %.2f (below 1: mimic is faster)\n", b / a, d / c}'
fi
