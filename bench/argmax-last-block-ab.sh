#!/usr/bin/env bash
# A/B of the fused argmax's reduce in the GEMV's last block (docs/last-block-argmax.md) in one call: per mode
# (last = the default, reduce = ARCTICC_ARGMAX_LAST_BLOCK=0: a reduce launch after each head, and the draft's
# tokens gathered by a concat kernel), the fixture draft's graph replay at 1 and 3 rows (bench/profile-plan.ts),
# then bench/e2e-ab.sh over both modes (E2E_ARGS; default: code, repeat, mixed at 1 request, 32 prompts, none /
# arctic / arctic+suffix). Writes $OUT/argmax-last-block-ab.json and $OUT/e2e-ab/, $OUT/e2e-ab.json.
#   source .gpu/env.sh && bash bench/argmax-last-block-ab.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
export OUT
mkdir -p "$OUT/argmax-last-block-ab"
rc=0
for m in last reduce; do
  d="$OUT/argmax-last-block-ab/$m"; mkdir -p "$d"
  v=1; [ "$m" = reduce ] && v=0
  for r in 1 3; do ARCTICC_ARGMAX_LAST_BLOCK=$v node bench/profile-plan.ts draft --rows $r --reps 50 --json > "$d/draft-$r.json" || rc=1; done
done
node -e "
const fs = require('fs'), r = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const out = {};
for (const m of ['last', 'reduce']) {
  const d = '$OUT/argmax-last-block-ab/' + m;
  out[m] = Object.fromEntries([1, 3].map((n) => { const p = r(d + '/draft-' + n + '.json'); return ['draft_' + n, { launches: p.launches, graph_replay_ms: p.graphReplayMs, eager_sum_ms: p.eagerSumMs }]; }));
}
fs.writeFileSync('$OUT/argmax-last-block-ab.json', JSON.stringify(out, null, 1));
for (const [m, v] of Object.entries(out)) console.log(m + ': ' + Object.entries(v).map(([k, x]) => k + ' ' + x.launches + ' launches, replay ' + x.graph_replay_ms.toFixed(4) + ' ms').join('; '));
" || rc=1
E2E_ARGS=${E2E_ARGS:---concurrency 1 --prompts 32 --drafters none,arctic,arctic+suffix} bash bench/e2e-ab.sh "last=" "reduce=ARCTICC_ARGMAX_LAST_BLOCK=0" || rc=1
exit $rc
