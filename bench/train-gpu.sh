#!/usr/bin/env bash
# arcticc train on the GPU machine (issue 10 "Done when"), everything under $OUT (default bench/out/train):
#   source .gpu/env.sh && bash bench/train-gpu.sh
# 1. train-gpu-check.json: the compiled training step on CUDA vs the CPU interpreter (loss, every gradient)
# 2. train.json: arcticc train --arch lstm from data/train-prompts.u16 (data generation + training + export),
#    wall clock of the whole command in train-time.txt (must be ≤ 600 s)
# 3. eval-fixture.json / eval-trained.json: eval-acceptance on dev-prompts.json for the fixture speculator
#    (should reproduce 1.867) and the trained one (goal ≥ 1.95)
# 4. e2e.json: the trained speculator through the decoding loop (arcticc generate with speculation)
# 5. peer-train.json: bench/peer_train.py on the same data cache, tokens/s side by side
# TRAIN_ARGS overrides the training size (default below: 2048 prompts, 1500 steps of 32 sequences).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}/train
mkdir -p "$OUT"
FIX=tests/fixtures/target
T=$FIX/pycode-small
say() { echo "== $(date -u +%T) $*" | tee -a "$OUT/log.txt"; }
say "1. GPU gate: training step on CUDA vs the interpreter"
node bench/train-gpu-check.ts --rows 512 > "$OUT/train-gpu-check.json" 2> >(tee -a "$OUT/log.txt" >&2) || { say "GPU gate FAILED"; cat "$OUT/train-gpu-check.json"; }
cat "$OUT/train-gpu-check.json"
say "2. arcticc train (data generation included)"
start=$(date +%s.%N)
node bin/arcticc.ts train --target $T --arch lstm --prompts $FIX/data/train-prompts.u16 --out "$OUT/lstm" \
  ${TRAIN_ARGS:---num-prompts 2048 --steps 1500 --batch 32 --max-num-seqs 128} --device cuda --json > "$OUT/train.json" 2> >(tee -a "$OUT/log.txt" >&2)
rc=$?
end=$(date +%s.%N)
echo "$(echo "$end - $start" | bc) s, exit $rc" | tee "$OUT/train-time.txt"
node -e "const j=require('./$OUT/train.json');console.log(JSON.stringify({first:j.first_loss,final:j.final_loss,rows_per_second:j.rows_per_second,timings:j.timings,curve:j.losses.filter((_,i)=>i%50===0)}))" | tee -a "$OUT/log.txt"
say "3. eval-acceptance: fixture speculator, then the trained one"
node bin/arcticc.ts eval-acceptance --target $T --speculator $FIX/pycode-small-lstm --prompts $FIX/data/dev-prompts.json --device cuda --json > "$OUT/eval-fixture.json"; cat "$OUT/eval-fixture.json"
node bin/arcticc.ts eval-acceptance --target $T --speculator "$OUT/lstm" --prompts $FIX/data/dev-prompts.json --device cuda --json > "$OUT/eval-trained.json"; cat "$OUT/eval-trained.json"
say "4. end to end through the decoding loop"
node -e "const p=require('./$FIX/data/dev-prompts.json').prompts.slice(0,32);require('fs').writeFileSync('$OUT/dev32.json',JSON.stringify({prompts:p}))"
node bin/arcticc.ts generate --model $T --prompt-ids "$OUT/dev32.json" --max-new-tokens 256 --ignore-eos --device cuda --json \
  --speculative-config "{\"method\": \"arctic\", \"model\": \"$OUT/lstm\", \"num_speculative_tokens\": 3}" > "$OUT/e2e.json"
node -e "const j=require('./$OUT/e2e.json');console.log(JSON.stringify(j.metrics))" | tee -a "$OUT/log.txt"
say "5. PyTorch peer on the same data"
PYTHONUNBUFFERED=1 python3 bench/peer_train.py --data "$OUT/lstm/data" --steps 300 --batch 32 --width 256 --out "$OUT/peer-train.json" 2>&1 | tee -a "$OUT/log.txt"
say "done"
