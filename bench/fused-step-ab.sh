#!/usr/bin/env bash
# A/B of the fused Arctic step (docs/chained-step-graph.md: the draft plan inside the target's step graph)
# in one call: bench/e2e.ts per mode, each in its own process. FUSED_MODES (default "fused unfused"):
# unfused = ARCTICC_FUSED_STEP=0 (the draft's own graph and copies chained in front of the verify pass).
# E2E_ARGS default: code, repeat and mixed at 1 and 8 requests, 16 prompts, none / arctic / arctic+suffix.
# Writes $OUT/fused-step-ab.json (per mode, the e2e rows) and prints one line per row.
#   source .gpu/env.sh && bash bench/fused-step-ab.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
mkdir -p "$OUT/fused-step-ab"
E2E_ARGS=${E2E_ARGS:---concurrency 1,8 --prompts 16 --drafters none,arctic,arctic+suffix}
MODES=${FUSED_MODES:-fused unfused}
rc=0
for m in $MODES; do
  d="$OUT/fused-step-ab/$m"; mkdir -p "$d"
  if [ "$m" = unfused ]; then export ARCTICC_FUSED_STEP=0; else unset ARCTICC_FUSED_STEP; fi
  node bench/e2e.ts --device cuda $E2E_ARGS --out "$d/e2e.json" 2> "$d/e2e.log" || { rc=1; tail -20 "$d/e2e.log"; }
done
unset ARCTICC_FUSED_STEP
node -e "
const fs = require('fs'), r = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const out = {};
for (const m of '$MODES'.split(' ')) out[m] = r('$OUT/fused-step-ab/' + m + '/e2e.json').rows.map((x) => ({
  workload: x.workload, concurrency: x.concurrency, drafter: x.drafter, tok_s_per_request: x.tok_s_per_request, tok_s_total: x.tok_s_total,
  mean_acceptance_length: x.mean_acceptance_length, draft_ms_per_step: x.draft_ms_per_step, verify_ms_per_step: x.verify_ms_per_step,
  host_ms_per_step: x.host_ms_per_step, identical_to_none: x.identical_to_none }));
fs.writeFileSync('$OUT/fused-step-ab.json', JSON.stringify(out, null, 1));
for (const [m, rows] of Object.entries(out)) {
  console.log(m + ':');
  for (const x of rows) console.log('  ' + x.workload + ' c' + x.concurrency + ' ' + x.drafter.padEnd(14) + ' ' + x.tok_s_per_request.toFixed(0).padStart(6) + ' tok/s/req ' + x.tok_s_total.toFixed(0).padStart(7) + ' total  AL ' + x.mean_acceptance_length.toFixed(2) + '  verify ' + x.verify_ms_per_step.toFixed(4) + ' + host ' + x.host_ms_per_step.toFixed(4) + (x.identical_to_none ? '' : '  NOT IDENTICAL'));
}" || rc=1
exit $rc
