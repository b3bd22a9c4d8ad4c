#!/usr/bin/env bash
# Which training recipe reaches the acceptance target within the time budget (issue 10), each variant
# trained for the same number of steps on the same prompts, then measured with eval-acceptance on
# dev-prompts.json (greedy acceptance length, the fixture README's definition):
#   recipe         data at temperature 1 / top-k 10, labels = the sampled tokens (ArcticTraining)
#   greedy-labels  the same data, labels = the target's argmax at each position (--labels greedy)
#   greedy-data    data at temperature 0: the target's greedy text (--temperature 0)
# Steps: STEPS, or as many as fit SECONDS_PER_VARIANT at the step time train-gpu-check measures.
#   source .gpu/env.sh && bash bench/train-variants.sh      (writes $OUT/train-variants/)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}/train-variants
mkdir -p "$OUT"
FIX=tests/fixtures/target
T=$FIX/pycode-small
NUM=${NUM_PROMPTS:-2048}
BATCH=${BATCH:-32}
fail=0
say() { echo "== $(date -u +%T) $*" | tee -a "$OUT/log.txt"; }
say "GPU gate: training step and device AdamW against the CPU"
node bench/train-gpu-check.ts --rows 320 --opt-rows 64 > "$OUT/train-gpu-check.json" 2>>"$OUT/log.txt" || { say "GPU gate FAILED"; fail=1; }
cat "$OUT/train-gpu-check.json"
ROWS=$((BATCH * 253))
STEPS=${STEPS:-$(node -e "
  const j=require(require('path').resolve('$OUT/train-gpu-check.json')); const ms=j[0]['step_ms_$ROWS'] ?? j[0].step_ms_8096;
  console.log(Math.max(50, Math.floor(${SECONDS_PER_VARIANT:-60} * 1000 / (ms || 100))))")}
say "steps per variant: $STEPS (batch $BATCH, $NUM prompts)"
variant() {
  local name=$1; shift
  say "variant $name: $*"
  local t0; t0=$(date +%s.%N)
  timeout "${VARIANT_TIMEOUT:-240}" node bin/arcticc.ts train --target $T --arch lstm --prompts $FIX/data/train-prompts.u16 \
    --out "$OUT/$name" --num-prompts "$NUM" --steps "$STEPS" --batch "$BATCH" --max-num-seqs 128 --device cuda --json "$@" \
    > "$OUT/$name.json" 2>>"$OUT/log.txt" || { say "variant $name FAILED"; fail=1; return; }
  local t1; t1=$(date +%s.%N)
  timeout 120 node bin/arcticc.ts eval-acceptance --target $T --speculator "$OUT/$name" --prompts $FIX/data/dev-prompts.json \
    --device cuda --json > "$OUT/$name-eval.json" 2>>"$OUT/log.txt" || { say "eval of $name FAILED"; fail=1; return; }
  node -e "
    const r=require('path').resolve, t=require(r('$OUT/$name.json')), e=require(r('$OUT/$name-eval.json'));
    const c=t.losses, k=Math.max(1,Math.floor(c.length/10));
    console.log(JSON.stringify({variant:'$name', args:'$*', wall_s:+($t1-$t0).toFixed(1), acceptance_length:e.acceptance_length, per_position:e.per_position,
      timings:t.timings, rows_per_second:t.rows_per_second, first_loss:t.first_loss, final_loss:t.final_loss, curve:c.filter((_,i)=>i%k===0||i===c.length-1)}))" \
    | tee -a "$OUT/summary.jsonl"
}
variant recipe --data-cache "$OUT/data-t1"
variant greedy-labels --data-cache "$OUT/data-t1" --labels greedy
variant greedy-data --data-cache "$OUT/data-t0" --temperature 0
say "fixture speculator, same eval"
timeout 120 node bin/arcticc.ts eval-acceptance --target $T --speculator $FIX/pycode-small-lstm --prompts $FIX/data/dev-prompts.json --device cuda --json > "$OUT/fixture-eval.json" 2>>"$OUT/log.txt" && cat "$OUT/fixture-eval.json"
if [ "${PEER:-1}" = 1 ] && [ -d "$OUT/data-t1" ]; then
  say "PyTorch peer on the same data"
  timeout 150 python3 bench/peer_train.py --data "$OUT/data-t1" --steps 300 --batch "$BATCH" --width 256 --out "$OUT/peer-train.json" >>"$OUT/log.txt" 2>&1 || { say "peer FAILED"; fail=1; }
  cat "$OUT/peer-train.json" 2>/dev/null | head -c 600; echo
fi
say "done (fail=$fail)"
exit $fail
