#!/usr/bin/env bash
# A/B of programmatic dependent launch (docs/pdl.md) in one call: the same measurements with ARCTICC_PDL=0
# and with PDL on (the default), each in its own process (the device reads the switch when it opens).
# Writes $OUT/pdl-ab.json: per mode, the fixture target's decode graph replay at 1 and 4 rows, the fixture
# draft's at 1 row (bench/profile-plan.ts), and e2e rows (bench/e2e.ts, E2E_ARGS; default: code, 1 request,
# 8 prompts, none / suffix / arctic / arctic+suffix).
#   source .gpu/env.sh && bash bench/pdl-ab.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
mkdir -p "$OUT/pdl-ab"
E2E_ARGS=${E2E_ARGS:---load code --concurrency 1 --prompts 8 --drafters none,suffix,arctic,arctic+suffix}
rc=0
for p in 0 1; do
  d="$OUT/pdl-ab/pdl$p"; mkdir -p "$d"
  for t in 1 4; do ARCTICC_PDL=$p node bench/profile-plan.ts target --tokens $t --reps 50 --json > "$d/target-$t.json" || rc=1; done
  ARCTICC_PDL=$p node bench/profile-plan.ts draft --rows 1 --reps 50 --json > "$d/draft-1.json" || rc=1
  ARCTICC_PDL=$p node bench/e2e.ts --device cuda $E2E_ARGS --out "$d/e2e.json" 2> "$d/e2e.log" || { rc=1; tail -20 "$d/e2e.log"; }
done
node -e "
const fs = require('fs'), r = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const out = {};
for (const p of [0, 1]) {
  const d = '$OUT/pdl-ab/pdl' + p;
  const e = r(d + '/e2e.json');
  out['pdl' + p] = {
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
