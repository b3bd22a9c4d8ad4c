#!/usr/bin/env bash
# A/B of the fused Arctic step (docs/chained-step-graph.md: the draft plan inside the target's step graph)
# in one call, through bench/e2e-ab.sh: FUSED_MODES (default "fused unfused"), unfused = ARCTICC_FUSED_STEP=0
# (the draft's own graph and copies chained in front of the verify pass). E2E_ARGS as e2e-ab.sh's default:
# code, repeat and mixed at 1 and 8 requests, 16 prompts, none / arctic / arctic+suffix. Results under
# $OUT/e2e-ab/ and $OUT/e2e-ab.json.
#   source .gpu/env.sh && bash bench/fused-step-ab.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
variants=()
for m in ${FUSED_MODES:-fused unfused}; do
  if [ "$m" = unfused ]; then variants+=("unfused=ARCTICC_FUSED_STEP=0"); else variants+=("$m="); fi
done
exec bash bench/e2e-ab.sh "${variants[@]}"
