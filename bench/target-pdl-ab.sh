#!/usr/bin/env bash
# The 8B-shape target (issue 11) with PDL off and on (docs/pdl.md), one checkpoint and one PyTorch peer for
# both: bench/make-llama-checkpoint.ts, bench/peer_target.py, then bench/target-bench.ts with ARCTICC_PDL=0
# and with the default. ARGS restricts the rows (default: B 1 and 8, q 1 and 4, 1k context, no prefill).
# Writes $OUT/target-bench-pdl0.json, $OUT/target-bench-pdl1.json, $OUT/peer-target.json.
#   source .gpu/env.sh && bash bench/target-pdl-ab.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
ARGS=${ARGS:---batches 1,8 --qs 1,4 --contexts 1024 --prefill-batches 1}
TDIR=$(mktemp -d "${TARGET_TMP:-/tmp}/arcticc-llama8b.XXXXXX")
trap 'rm -rf "$TDIR"' EXIT
rc=0
node bench/make-llama-checkpoint.ts "$TDIR/llama-8b" > "$OUT/make-checkpoint.log" 2>&1 || { echo "make-llama-checkpoint FAILED"; exit 1; }
node bench/make-llama-checkpoint.ts "$TDIR/llama-8b-2l" --layers 2 --seed 2 >> "$OUT/make-checkpoint.log" 2>&1 || { echo "make-llama-checkpoint (2 layers) FAILED"; exit 1; }
PYTHONUNBUFFERED=1 python3 bench/peer_target.py --model "$TDIR/llama-8b" --out "$OUT/peer-target.json" --hf 0 $ARGS > "$OUT/peer-target.log" 2>&1 || { echo "peer_target FAILED"; rc=1; }
for p in 0 1; do
  ARCTICC_PDL=$p node bench/target-bench.ts --model "$TDIR/llama-8b" --check-model "$TDIR/llama-8b-2l" --peer "$OUT/peer-target.json" --out "$OUT/target-bench-pdl$p.json" $ARGS > "$OUT/target-bench-pdl$p.txt" 2>&1 || { echo "target-bench (ARCTICC_PDL=$p) FAILED"; rc=1; }
  echo "== ARCTICC_PDL=$p"; tail -25 "$OUT/target-bench-pdl$p.txt"
done
exit $rc
