#!/usr/bin/env bash
# One command for the GPU machine: the GPU test suite (vitest, ARCTICC_GPU=1, JSON report), the PyTorch
# peer, then bench/gpu-bench.ts, which prints the summary table last. Everything lands in $OUT
# (default bench/out): gpu-check.log, gpu-tests.json, peer-torch.json, gpu-bench.json (and e2e.json,
# peer-e2e.json, serve-bench.json, tp-bench.json from the later sections).
#   source .gpu/env.sh && bash bench/gpu-check.sh [vitest file filters…]
# GPU_CHECK_BENCH=0 skips the draft benchmark and its peer; GPU_CHECK_TESTS=0 skips the tests;
# GPU_CHECK_E2E=0 skips the end-to-end table (bench/e2e.ts and its PyTorch peers, e2e.json, peer-e2e.json);
# GPU_CHECK_SERVE=0 skips bench/serve-bench.ts (serve-bench.json; SERVE_ARGS);
# GPU_CHECK_TP=0 skips bench/tp-bench.ts (TP = 1 through NCCL vs plain, tp-bench.json; TP_ARGS, e.g. TP_ARGS="--models lstm");
# E2E_ARGS / PEER_E2E_ARGS pass options to them (e.g. E2E_ARGS="--prompts 8 --concurrency 1,8"); E2E_WARMUP
# (default all: each row's workload once, untimed, so its CUDA graphs are captured; a token count warms the
# first prompts only, as before 2026-12-02).
# GPU_CHECK_TRAIN=0 skips the training step (bench/train-gpu-check.ts: CUDA vs the interpreter, device AdamW,
# step time at 8096 rows; and bench/peer_train.py on random rows of the same shapes, eager and under
# torch.compile: train-gpu-check.json, peer-train.json, peer-train-compiled.json; TRAIN_PEER_COMPILE=0 skips the latter).
# BENCH_BATCHES=1,2,4,8,16,32,64 times the drafts at every ArcticInference bucket (default 1,32); BENCH_ACTIVATIONS=f32
# times only the f32-activation rows (default f32,bf16: also the "-bf16a" rows, a bf16 speculator's numerics).
# GPU_CHECK_TARGET=0 skips the target model at the Llama-3.1-8B shape (issue 11; last, so its table prints last):
# bench/make-llama-checkpoint.ts writes a 16 GB random bf16 checkpoint (and a 2-layer copy for the CPU check)
# under TARGET_TMP (default /tmp; deleted at the end), bench/peer_target.py times the PyTorch peer
# (peer-target.json), bench/target-bench.ts our target beside its floors and the peer (target-bench.json).
# TARGET_ARGS restricts the rows of both (e.g. TARGET_ARGS="--batches 1,8 --contexts 1024"; the peer ignores
# target-bench-only options, e.g. "--profile 1x1x1024,64x4x8192" for per-launch profiles of those rows);
# PEER_TARGET_ARGS goes to the peer alone (e.g. "--hf 0" skips the HF torch.compile try, ~1-3 min of the section).
# TARGET_FP8=0 skips the fp8 run of the target section (issue 11, on by default): target-bench --quantize fp8 on the
# same checkpoint (rows with fp8 floors, the 2-layer copy fp8 on CUDA vs the CPU, target-bench-fp8.json) and the
# top-1 agreement of fp8 with bf16 on TARGET_FP8_STEPS (default 1000) teacher-forced steps of the 8B checkpoint
# (random tokens) and of pycode-small (the dev prompts), then a one-line summary; TARGET_ARGS applies to it too,
# TARGET_FP8_ARGS to it alone. TARGET_BF16=0 skips the bf16 target-bench, TARGET_PEER=0 the PyTorch peer.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
: > "$LOG"
export ARCTICC_GPU=1
say() { echo "== $*" | tee -a "$LOG"; }

say "$(date -u +%FT%TZ) gpu-check on $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi'); node $(node --version)"
tests_rc=0
failed=0
if [ "${GPU_CHECK_TESTS:-1}" != 0 ]; then
  say "GPU test suite"
  node node_modules/vitest/vitest.mjs run ${@:-tests/gpu} --fileParallelism=false --reporter=default --reporter=json --outputFile.json="$OUT/gpu-tests.json" 2>&1 | tee -a "$LOG"
  tests_rc=${PIPESTATUS[0]}
fi
if [ "${GPU_CHECK_BENCH:-1}" != 0 ]; then
  say "PyTorch peer"
  PYTHONUNBUFFERED=1 python3 bench/peer_torch.py --fp8 --batches "${BENCH_BATCHES:-1,32}" --out "$OUT/peer-torch.json" 2>&1 | tee -a "$LOG"
  say "benchmark"
  node bench/gpu-bench.ts --batches "${BENCH_BATCHES:-1,32}" --activations "${BENCH_ACTIVATIONS:-f32,bf16}" --out "$OUT/gpu-bench.json" --peer "$OUT/peer-torch.json" --tests "$OUT/gpu-tests.json" 2>&1 | tee -a "$LOG"
  bench_rc=${PIPESTATUS[0]}
  # an error row (failed compile/run, or drafts that differ from the eager launches or the interpreter) exits 1
  [ "$bench_rc" = 0 ] || { echo "gpu-bench FAILED (exit $bench_rc): an error row" | tee -a "$LOG"; failed=1; }
fi
if [ "${GPU_CHECK_TRAIN:-1}" != 0 ]; then
  say "training step (CUDA vs the interpreter, device AdamW, step time) and its PyTorch peer"
  node bench/train-gpu-check.ts --rows 320 --opt-rows 64 --big-rows 8096 > "$OUT/train-gpu-check.json" 2> >(tee -a "$LOG" >&2)
  train_rc=$?
  cat "$OUT/train-gpu-check.json" | tee -a "$LOG"
  [ "$train_rc" = 0 ] || { echo "train-gpu-check FAILED (exit $train_rc)" | tee -a "$LOG"; failed=1; }
  PYTHONUNBUFFERED=1 python3 bench/peer_train.py --synthetic 512 --target tests/fixtures/target/pycode-small --steps 200 --batch 32 --width 256 \
    --out "$OUT/peer-train.json" > /dev/null 2>> "$LOG" || { echo "peer_train FAILED" | tee -a "$LOG"; failed=1; }
  # the same step under torch.compile (the strongest PyTorch configuration; TRAIN_PEER_COMPILE=0 skips it)
  if [ "${TRAIN_PEER_COMPILE:-1}" != 0 ]; then
    PYTHONUNBUFFERED=1 python3 bench/peer_train.py --synthetic 512 --target tests/fixtures/target/pycode-small --steps 200 --batch 32 --width 256 \
      --compile --out "$OUT/peer-train-compiled.json" > /dev/null 2>> "$LOG" || { echo "peer_train --compile FAILED" | tee -a "$LOG"; failed=1; }
  fi
  node -e "const fs=require('fs'), r=require('path').resolve, o=require(r('$OUT/train-gpu-check.json')), p=require(r('$OUT/peer-train.json'));
    const c=fs.existsSync(r('$OUT/peer-train-compiled.json')) ? require(r('$OUT/peer-train-compiled.json')) : null;
    const peer=(q, what) => ', PyTorch ' + what + ' ' + q.ms_per_step.toFixed(2) + ' ms (' + (q.tokens_per_second/1e3).toFixed(0) + 'k rows/s)';
    for (const x of o) console.log('train step ' + x.name + ' 8096 rows: ' + x.step_ms_8096.toFixed(2) + ' ms (' + (x.rows_per_second_8096/1e3).toFixed(0) + 'k rows/s)' + (x.name === 'lstm' ? peer(p, 'eager') + (c ? peer(c, 'torch.compile') : '') : ''))" 2>&1 | tee -a "$LOG"
fi
if [ "${GPU_CHECK_E2E:-1}" != 0 ]; then
  say "end-to-end peers (PyTorch)"
  PYTHONUNBUFFERED=1 python3 bench/peer_e2e.py --model tests/fixtures/target/pycode-small --workloads tests/fixtures/target/data/workloads-dev.json \
    --out "$OUT/peer-e2e.json" ${PEER_E2E_ARGS:-} 2>&1 | tee -a "$LOG"
  say "end-to-end table"
  node bench/e2e.ts --device cuda --peer "$OUT/peer-e2e.json" --out "$OUT/e2e.json" --warmup "${E2E_WARMUP:-all}" ${E2E_ARGS:-} 2>&1 | tee -a "$LOG"
  e2e_rc=${PIPESTATUS[0]}
  [ "$e2e_rc" = 0 ] || { echo "e2e FAILED (exit $e2e_rc)" | tee -a "$LOG"; failed=1; }
fi
if [ "${GPU_CHECK_SERVE:-1}" != 0 ]; then
  say "serve benchmark"
  node bench/serve-bench.ts --device cuda --out "$OUT/serve-bench.json" ${SERVE_ARGS:-} 2>&1 | tee -a "$LOG"
  serve_rc=${PIPESTATUS[0]}
  [ "$serve_rc" = 0 ] || { echo "serve-bench FAILED (exit $serve_rc)" | tee -a "$LOG"; failed=1; }
fi
if [ "${GPU_CHECK_TP:-1}" != 0 ]; then
  say "tensor parallel: TP = 1 through NCCL vs plain"
  NCCL_NVLS_ENABLE=0 node bench/tp-bench.ts --out "$OUT/tp-bench.json" ${TP_ARGS:-} 2>&1 | tee -a "$LOG"
  tp_rc=${PIPESTATUS[0]}
  # an error row (a failed run, or tokens that differ from the plain path) exits 1
  [ "$tp_rc" = 0 ] || { echo "tp-bench FAILED (exit $tp_rc)" | tee -a "$LOG"; failed=1; }
fi
if [ "${GPU_CHECK_TARGET:-1}" != 0 ]; then
  say "target model, Llama-3.1-8B shape: checkpoint, PyTorch peer, target-bench"
  TDIR=$(mktemp -d "${TARGET_TMP:-/tmp}/arcticc-llama8b.XXXXXX")
  trap 'rm -rf "$TDIR"' EXIT
  node bench/make-llama-checkpoint.ts "$TDIR/llama-8b" 2>&1 | tee -a "$LOG"
  make_rc=${PIPESTATUS[0]}
  node bench/make-llama-checkpoint.ts "$TDIR/llama-8b-2l" --layers 2 --seed 2 2>&1 | tee -a "$LOG"
  [ "$make_rc" = 0 ] && [ "${PIPESTATUS[0]}" = 0 ] || { echo "make-llama-checkpoint FAILED (disk space under ${TARGET_TMP:-/tmp}? 19 GB needed)" | tee -a "$LOG"; failed=1; }
  rm -f "$OUT/peer-target.json" "$OUT/target-bench.json" "$OUT/target-bench-fp8.json"  # never compare against a previous run's
  if [ "${TARGET_PEER:-1}" != 0 ]; then
    PYTHONUNBUFFERED=1 python3 bench/peer_target.py --model "$TDIR/llama-8b" --out "$OUT/peer-target.json" ${TARGET_ARGS:-} ${PEER_TARGET_ARGS:-} 2>&1 | tee -a "$LOG"
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "peer_target FAILED (target-bench runs without the peer)" | tee -a "$LOG"; failed=1; }
  fi
  peer_arg=()
  [ -s "$OUT/peer-target.json" ] && peer_arg=(--peer "$OUT/peer-target.json")
  if [ "${TARGET_BF16:-1}" != 0 ]; then
    node bench/target-bench.ts --model "$TDIR/llama-8b" --check-model "$TDIR/llama-8b-2l" --out "$OUT/target-bench.json" ${peer_arg[@]+"${peer_arg[@]}"} ${TARGET_ARGS:-} 2>&1 | tee -a "$LOG"
    target_rc=${PIPESTATUS[0]}
    # an error row or a failed token check (replay vs eager vs forward, vs the peer, the 2-layer copy vs the CPU) exits 1
    [ "$target_rc" = 0 ] || { echo "target-bench FAILED (exit $target_rc)" | tee -a "$LOG"; failed=1; }
  fi
  if [ "${TARGET_FP8:-1}" != 0 ]; then
    say "target model, fp8 weights: target-bench --quantize fp8, top-1 agreement with bf16 on ${TARGET_FP8_STEPS:-1000} steps"
    node bench/target-bench.ts --model "$TDIR/llama-8b" --quantize fp8 --check-model "$TDIR/llama-8b-2l" --out "$OUT/target-bench-fp8.json" \
      --agreement "${TARGET_FP8_STEPS:-1000}" --agreement-model tests/fixtures/target/pycode-small --agreement-prompts tests/fixtures/target/data/dev-prompts.json \
      ${peer_arg[@]+"${peer_arg[@]}"} ${TARGET_ARGS:-} ${TARGET_FP8_ARGS:-} 2>&1 | tee -a "$LOG"
    fp8_rc=${PIPESTATUS[0]}
    # an error row, a failed check (replay vs eager vs forward, the 2-layer fp8 copy vs the CPU) or a failed agreement run exits 1
    [ "$fp8_rc" = 0 ] || { echo "target-bench --quantize fp8 FAILED (exit $fp8_rc)" | tee -a "$LOG"; failed=1; }
    node bench/target-fp8-summary.ts "$OUT/target-bench-fp8.json" "$OUT/target-bench.json" 2>&1 | tee -a "$LOG"
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "target fp8 summary FAILED (no target-bench-fp8.json?)" | tee -a "$LOG"; failed=1; }
  fi
  rm -rf "$TDIR"
fi
[ "$tests_rc" = 0 ] || echo "GPU tests FAILED (exit $tests_rc); see $OUT/gpu-check.log" | tee -a "$LOG"
[ "$tests_rc" = 0 ] && [ "$failed" = 0 ] || exit 1
