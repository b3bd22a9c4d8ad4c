#!/usr/bin/env bash
# A/B of programmatic dependent launch (docs/pdl.md) in one call: the same measurements per mode, each in
# its own process (the device reads the switch when it opens, the PTX builder the trigger when it emits).
# PDL_MODES (default "off start end none"): off = ARCTICC_PDL=0; start/end/none = PDL on with
# ARCTICC_PDL_TRIGGER=that. Writes $OUT/pdl-ab.json: per mode, the fixture target's decode graph replay at 1 and 4 rows, the fixture
# draft's at 1 row (bench/profile-plan.ts), and e2e rows (bench/e2e.ts, E2E_ARGS; default: code, 1 request,
# 8 prompts, none / suffix / arctic / arctic+suffix).
#   source .gpu/env.sh && bash bench/pdl-ab.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
mkdir -p "$OUT/pdl-ab"
E2E_ARGS=${E2E_ARGS:---load code --concurrency 1 --prompts 8 --drafters none,suffix,arctic,arctic+suffix}
rc=0
MODES=${PDL_MODES:-off start end none}
for m in $MODES; do
  d="$OUT/pdl-ab/$m"; mkdir -p "$d"
  if [ "$m" = off ]; then export ARCTICC_PDL=0; unset ARCTICC_PDL_TRIGGER; else export ARCTICC_PDL=1 ARCTICC_PDL_TRIGGER=$m; fi
  for t in 1 4; do node bench/profile-plan.ts target --tokens $t --reps 50 --json > "$d/target-$t.json" || rc=1; done
  node bench/profile-plan.ts draft --rows 1 --reps 50 --json > "$d/draft-1.json" || rc=1
  node bench/e2e.ts --device cuda $E2E_ARGS --out "$d/e2e.json" 2> "$d/e2e.log" || { rc=1; tail -20 "$d/e2e.log"; }
done
unset ARCTICC_PDL ARCTICC_PDL_TRIGGER
node -e "
const fs = require('fs'), r = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const out = {};
for (const p of '$MODES'.split(' ')) {
  const d = '$OUT/pdl-ab/' + p;
  const e = r(d + '/e2e.json');
  out[p] = {
    target_decode_1_replay_ms: r(d + '/target-1.json').graphReplayMs, target_decode_4_replay_ms: r(d + '/target-4.json').graphReplayMs,
    draft_1_replay_ms: r(d + '/draft-1.json').graphReplayMs,
    e2e: e.rows.map((x) => ({ workload: x.workload, concurrency: x.concurrency, drafter: x.drafter, tok_s_per_request: x.tok_s_per_request, mean_acceptance_length: x.mean_acceptance_length, verify_ms_per_step: x.verify_ms_per_step, host_ms_per_step: x.host_ms_per_step, identical_to_none: x.identical_to_none })),
  };
}
fs.writeFileSync('$OUT/pdl-ab.json', JSON.stringify(out, null, 1));
for (const [k, v] of Object.entries(out)) {
  console.log(k + ': target decode replay 1 row ' + v.target_decode_1_replay_ms.toFixed(4) + ' ms, 4 rows ' + v.target_decode_4_replay_ms.toFixed(4) + ', draft 1 row ' + v.draft_1_replay_ms.toFixed(4));
  for (const x of v.e2e) console.log('  ' + x.workload + ' c' + x.concurrency + ' ' + x.drafter.padEnd(14) + ' ' + x.tok_s_per_request.toFixed(0).padStart(6) + ' tok/s  AL ' + x.mean_acceptance_length.toFixed(2) + '  step ' + x.verify_ms_per_step.toFixed(4) + ' + host ' + x.host_ms_per_step.toFixed(4) + (x.identical_to_none ? '' : '  NOT IDENTICAL'));
}" || rc=1
exit $rc
