#!/usr/bin/env bash
# arcticc train on the GPU machine, issue 10's "Done when", everything under $OUT/train:
#   source .gpu/env.sh && bash bench/train-gpu.sh
# 1. train-gpu-check.json: the compiled training step and device AdamW on CUDA vs the CPU (small rows),
#    and the step time at the training batch, which sizes the run: STEPS = TRAIN_SECONDS / step time
# 2. train.json: arcticc train --arch lstm from data/train-prompts.u16 (data generation + training +
#    export), the wall clock of the whole command in train-time.txt (the budget is 600 s)
# 3. eval-fixture.json / eval-trained.json: eval-acceptance on dev-prompts.json for the fixture
#    speculator and the trained one (goal ≥ 1.95)
# 4. e2e.json: the trained speculator through the decoding loop (arcticc generate, 32 dev prompts)
# 5. peer-train.json: bench/peer_train.py on the same data cache, tokens/s side by side
# GATE=0 skips 1 (then give STEPS). TRAIN_ARGS: extra arguments for arcticc train (default: the recipe's data at temperature 0, greedy text)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}/train
mkdir -p "$OUT"
FIX=tests/fixtures/target
T=$FIX/pycode-small
BATCH=${BATCH:-32}
fail=0
say() { echo "== $(date -u +%T) $*" | tee -a "$OUT/log.txt"; }
say "1. GPU gate"
if [ "${GATE:-1}" = 1 ]; then
  node bench/train-gpu-check.ts --rows 320 --opt-rows 64 --big-rows $((BATCH * 253)) > "$OUT/train-gpu-check.json" 2>>"$OUT/log.txt" || { say "GPU gate FAILED"; fail=1; }
fi
STEPS=${STEPS:-$(node -e "
  const j=require(require('path').resolve('$OUT/train-gpu-check.json')); const ms=j[0]['step_ms_$((BATCH * 253))'];
  console.log(Math.max(100, Math.floor(${TRAIN_SECONDS:-380} * 1000 / (ms || 100))))")}
say "2. arcticc train: $STEPS steps of $BATCH sequences ${TRAIN_ARGS:-}"
start=$(date +%s.%N)
node bin/arcticc.ts train --target $T --arch lstm --prompts $FIX/data/train-prompts.u16 --out "$OUT/lstm" --steps "$STEPS" --batch "$BATCH" \
  --max-num-seqs 256 --device cuda --json ${TRAIN_ARGS:---temperature 0} > "$OUT/train.json" 2>>"$OUT/log.txt" || { say "train FAILED"; fail=1; }
end=$(date +%s.%N)
echo "$(echo "$end - $start" | bc) s" | tee "$OUT/train-time.txt"
node -e "const j=require(require('path').resolve('$OUT/train.json'));const k=Math.max(1,Math.floor(j.losses.length/40));console.log(JSON.stringify({steps:j.steps,sequences:j.sequences,first:j.first_loss,final:j.final_loss,rows_per_second:j.rows_per_second,timings:j.timings,curve:j.losses.filter((_,i)=>i%k===0||i===j.losses.length-1).map(x=>+x.toFixed(3))}))" | tee -a "$OUT/log.txt"
say "3. eval-acceptance: fixture speculator, then the trained one"
node bin/arcticc.ts eval-acceptance --target $T --speculator $FIX/pycode-small-lstm --prompts $FIX/data/dev-prompts.json --device cuda --json > "$OUT/eval-fixture.json" || fail=1
node bin/arcticc.ts eval-acceptance --target $T --speculator "$OUT/lstm" --prompts $FIX/data/dev-prompts.json --device cuda --json > "$OUT/eval-trained.json" || fail=1
cat "$OUT/eval-fixture.json" "$OUT/eval-trained.json"
say "4. end to end through the decoding loop"
node -e "const p=require(require('path').resolve('$FIX/data/dev-prompts.json')).prompts.slice(0,32);require('fs').writeFileSync('$OUT/dev32.json',JSON.stringify({prompts:p}))"
node bin/arcticc.ts generate --model $T --prompt-ids "$OUT/dev32.json" --max-new-tokens 256 --ignore-eos --device cuda --json \
  --speculative-config "{\"method\": \"arctic\", \"model\": \"$OUT/lstm\", \"num_speculative_tokens\": 3}" > "$OUT/e2e.json" || fail=1
node -e "const j=require(require('path').resolve('$OUT/e2e.json'));console.log(JSON.stringify(j.metrics))" | tee -a "$OUT/log.txt"
if [ "${PEER:-1}" = 1 ]; then
  say "5. PyTorch peer on the same data"
  PYTHONUNBUFFERED=1 timeout 60 python3 bench/peer_train.py --data "$OUT/lstm/data" --steps 300 --batch "$BATCH" --width 256 --out "$OUT/peer-train.json" >>"$OUT/log.txt" 2>&1 || { say "peer FAILED"; fail=1; }
fi
say "done (fail=$fail)"
exit $fail
