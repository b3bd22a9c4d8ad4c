#!/usr/bin/env bash
# A/B of engine variants in one device call: bench/e2e.ts once per variant, each in its own process, the
# same E2E_ARGS for all. A variant is NAME=WORDS: WORDS that look like VAR=value go to the environment, the
# rest are extra bench/e2e.ts flags. Writes $OUT/e2e-ab/NAME/e2e.json (+ .log) and $OUT/e2e-ab.json (per
# variant, the rows' main figures), prints one line per row; exits 1 if any variant fails.
#   source .gpu/env.sh && bash bench/e2e-ab.sh "off=--suffix-updates off" "global=--suffix-updates global"
#   bash bench/e2e-ab.sh "fused=" "unfused=ARCTICC_FUSED_STEP=0"      (what bench/fused-step-ab.sh runs)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
E2E_ARGS=${E2E_ARGS:---concurrency 1,8 --prompts 16 --drafters none,arctic,arctic+suffix}
[ $# -gt 0 ] || { echo "usage: bench/e2e-ab.sh NAME=[VAR=value ...] [e2e flags ...] ..." >&2; exit 2; }
mkdir -p "$OUT/e2e-ab"
rc=0
names=()
for v in "$@"; do
  name=${v%%=*}; words=${v#*=}
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "e2e-ab: bad variant name in '$v'" >&2; exit 2; }
  envs=(); args=()
  for w in $words; do if [[ "$w" =~ ^[A-Z_][A-Z0-9_]*= ]]; then envs+=("$w"); else args+=("$w"); fi; done
  d="$OUT/e2e-ab/$name"; mkdir -p "$d"; names+=("$name")
  echo "== $name: ${envs[*]:-} node bench/e2e.ts --device ${E2E_DEVICE:-cuda} $E2E_ARGS ${args[*]:-}"
  env "${envs[@]}" node bench/e2e.ts --device "${E2E_DEVICE:-cuda}" $E2E_ARGS "${args[@]}" --out "$d/e2e.json" 2> "$d/e2e.log" || { rc=1; tail -20 "$d/e2e.log"; }
done
node -e "
const fs = require('fs');
const out = {};
for (const m of process.argv.slice(1)) {
  const f = '$OUT/e2e-ab/' + m + '/e2e.json';
  if (!fs.existsSync(f)) { console.log(m + ': no results'); process.exitCode = 1; continue; }
  out[m] = JSON.parse(fs.readFileSync(f, 'utf8')).rows.map((x) => ({
    workload: x.workload, concurrency: x.concurrency, drafter: x.drafter, tok_s_per_request: x.tok_s_per_request, tok_s_total: x.tok_s_total,
    tok_s_steady: x.tok_s_steady, mean_acceptance_length: x.mean_acceptance_length, steps: x.steps, draft_ms_per_step: x.draft_ms_per_step,
    verify_ms_per_step: x.verify_ms_per_step, host_ms_per_step: x.host_ms_per_step, graphs_captured: x.graphs_captured, capture_ms: x.capture_ms,
    by_source: x.by_source, identical_to_none: x.identical_to_none }));
}
fs.writeFileSync('$OUT/e2e-ab.json', JSON.stringify(out, null, 1));
const f = (x, d, w) => (typeof x === 'number' ? x.toFixed(d) : '-').padStart(w);
for (const [m, rows] of Object.entries(out)) {
  console.log(m + ':');
  for (const x of rows) console.log('  ' + x.workload.padEnd(6) + ' c' + String(x.concurrency).padEnd(3) + x.drafter.padEnd(14) + f(x.tok_s_per_request, 0, 7) + ' tok/s/req' + f(x.tok_s_total, 0, 8) + ' total  AL' + f(x.mean_acceptance_length, 2, 6) + '  steps' + f(x.steps, 0, 6) + '  verify' + f(x.verify_ms_per_step, 4, 8) + ' draft' + f(x.draft_ms_per_step, 4, 7) + ' host' + f(x.host_ms_per_step, 4, 7) + '  graphs' + f(x.graphs_captured, 0, 4) + f(x.capture_ms, 1, 7) + ' ms' + (x.identical_to_none ? '' : '  NOT IDENTICAL'));
}" "${names[@]}" || rc=1
exit $rc
