// The measurements of bench/target-bench.ts on a loaded target: decode/verify steps (B sequences × q new
// tokens over `context` cached positions) and prefill, on CUDA (the plan's CUDA graph replayed on inputs
// already on the device, timed with events) or on the CPU (wall time of target.forward), plus the token
// checks. Everything here reports; nothing decides pass/fail except a row's `error`.
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import type { PlanExecutor } from '../runtime/cuda/executor.ts';
import { EventTimer } from '../runtime/cuda/graph.ts';
import type { TargetModel, TargetSequence } from '../runtime/target/target-model.ts';
import { median } from './random-weights.ts';

export interface StepTiming { ms: number; minMs: number; eagerMs?: number; reps: number; checked: string; error?: string }

/** A deterministic token stream (xorshift) in [0, V). */
export function randomTokens(n: number, V: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % V; });
}

/** Sets each sequence's cached length to `length` (the cache contents are whatever the state holds). */
export function setLengths(t: TargetModel, seqs: readonly TargetSequence[], length: number): void {
  for (const s of seqs) { t.slots.rollback(s.slot, s.length); t.slots.advance(s.slot, length); }
}

/** The step's rows: sequence b's q new tokens at positions context … context + q − 1; every row's head wanted. */
export function stepInputs(seqs: readonly TargetSequence[], q: number, context: number, V: number, seed: number): Record<string, HostTensor> {
  const N = seqs.length * q;
  const tok = randomTokens(N, V, seed);
  const pos = new Int32Array(N), slot = new Int32Array(N);
  seqs.forEach((s, b) => { for (let j = 0; j < q; j++) { pos[b * q + j] = context + j; slot[b * q + j] = s.slot; } });
  return {
    tokens: hostTensor('i32', [N], Int32Array.from(tok)), positions: hostTensor('i32', [N], pos),
    slots: hostTensor('i32', [N], slot), rows: hostTensor('i32', [N], Int32Array.from({ length: N }, (_, i) => i)),
  };
}

const tokensOf = (r: Record<string, HostTensor>): Int32Array => r.next_tokens.data as Int32Array;
const diff = (a: ArrayLike<number>, b: ArrayLike<number>): number => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i; return a.length === b.length ? -1 : a.length; };

/**
 * CUDA: stages the step's inputs once (exec.run, which also captures the graph for N = M = B·q), checks the
 * next tokens of graph replay = eager launches = target.forward (the backend's own path, buckets and all),
 * then times `reps` replays and `eagerReps` eager passes with events. Replays are idempotent: each rewrites the same
 * cache positions with the same values and reads only positions below them.
 */
export async function timeCudaStep(t: TargetModel, exec: PlanExecutor, seqs: readonly TargetSequence[], q: number, context: number, reps: number, seed: number, eagerReps = 10): Promise<StepTiming> {
  const inputs = stepInputs(seqs, q, context, t.vocabSize, seed);
  const N = seqs.length * q;
  const dims = { N, M: N };
  const outputs = ['next_tokens'];
  const replay = tokensOf(exec.run(inputs, { graph: true, outputs }));
  const eager = tokensOf(exec.run(inputs, { graph: false, outputs }));
  const tok = inputs.tokens.data as Int32Array;
  const viaTarget = await t.forward(seqs.map((s, b) => ({ seq: s, tokens: tok.subarray(b * q, (b + 1) * q), want: 'all' as const })));
  for (const s of seqs) s.rollback(q);
  const api = Int32Array.from(viaTarget.flatMap((r) => [...r.nextTokens]));
  const checked = `next tokens of all ${N} rows: graph replay = eager launches = target.forward`;
  let error: string | undefined;
  const d1 = diff(replay, eager), d2 = diff(replay, api);
  if (d1 >= 0) error = `row ${d1}: graph replay token ${replay[d1]} != eager ${eager[d1]}`;
  else if (d2 >= 0) error = `row ${d2}: graph replay token ${replay[d2]} != target.forward ${api[d2]}`;
  exec.run(inputs, { graph: true, outputs }); // the staged inputs are this step's again (forward restaged its own)
  const timer = new EventTimer(exec.device);
  try {
    const ms: number[] = [], eagerMs: number[] = [];
    for (let r = 0; r < reps; r++) { timer.start(); exec.enqueue(dims, { graph: true }); timer.stop(); ms.push(timer.elapsedMs()); }
    for (let r = 0; r < eagerReps; r++) { timer.start(); exec.enqueue(dims, { graph: false }); timer.stop(); eagerMs.push(timer.elapsedMs()); }
    return { ms: median(ms), minMs: Math.min(...ms), eagerMs: median(eagerMs), reps, checked, ...(error ? { error } : {}) };
  } finally {
    timer.destroy();
  }
}

/** CPU: wall ms of target.forward for the step (median of reps; each rep rolled back). */
export async function timeCpuStep(t: TargetModel, seqs: readonly TargetSequence[], q: number, context: number, reps: number, seed: number): Promise<StepTiming> {
  const tok = stepInputs(seqs, q, context, t.vocabSize, seed).tokens.data as Int32Array;
  const items = seqs.map((s, b) => ({ seq: s, tokens: tok.subarray(b * q, (b + 1) * q), want: 'all' as const }));
  const ms: number[] = [];
  let first: Int32Array | null = null, error: string | undefined;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const out = await t.forward(items);
    ms.push(performance.now() - t0);
    for (const s of seqs) s.rollback(q);
    const got = Int32Array.from(out.flatMap((x) => [...x.nextTokens]));
    if (first === null) first = got;
    else if (diff(first, got) >= 0 && !error) error = `rep ${r}: next tokens differ from rep 0 at row ${diff(first, got)} (the step is not repeatable)`;
  }
  return { ms: median(ms), minMs: Math.min(...ms), reps, checked: `next tokens of all ${seqs.length * q} rows equal across ${reps} repeated steps (CPU: no graph to compare)`, ...(error ? { error } : {}) };
}

export interface PrefillTiming { ms: number; reps: number; gpuMsPerPass?: number; passes: number }

/**
 * Prefill of B prompts of T tokens through target.forward (the real path: passes of at most maxBatchTokens
 * rows), wall ms per call (median of reps after one warm-up pass); on CUDA also the graph replay of one
 * T-token pass timed with events (median of gpuReps replays).
 */
export async function timePrefill(t: TargetModel, exec: PlanExecutor | null, seqs: readonly TargetSequence[], T: number, reps: number, seed: number, gpuReps = 5): Promise<PrefillTiming> {
  const prompts = seqs.map((_, b) => randomTokens(T, t.vocabSize, seed + b));
  const items = seqs.map((s, b) => ({ seq: s, tokens: prompts[b], want: 'last' as const }));
  setLengths(t, seqs, 0);
  await t.forward([items[0]]); // warm-up: captures the pass's graph
  setLengths(t, seqs, 0);
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await t.forward(items);
    ms.push(performance.now() - t0);
    setLengths(t, seqs, 0);
  }
  const passRows = Math.min(T, exec?.plan.maxDims.N ?? T);
  const passes = seqs.length * Math.ceil(T / passRows);
  if (!exec) return { ms: median(ms), reps, passes };
  const pos = Int32Array.from({ length: passRows }, (_, i) => i);
  const inputs = {
    tokens: hostTensor('i32', [passRows], Int32Array.from(prompts[0].slice(0, passRows))), positions: hostTensor('i32', [passRows], pos),
    slots: hostTensor('i32', [passRows], new Int32Array(passRows).fill(seqs[0].slot)), rows: hostTensor('i32', [1], Int32Array.of(passRows - 1)),
  };
  exec.run(inputs, { graph: true, outputs: ['next_tokens'] });
  const timer = new EventTimer(exec.device);
  try {
    const g: number[] = [];
    for (let r = 0; r < gpuReps; r++) { timer.start(); exec.enqueue({ N: passRows, M: 1 }, { graph: true }); timer.stop(); g.push(timer.elapsedMs()); }
    return { ms: median(ms), reps, passes, gpuMsPerPass: median(g) };
  } finally {
    timer.destroy();
  }
}

export interface TokenCheck { steps: number; compared: number; agreed: number; skippedLowMargin: number; checked: string; error?: string }

/**
 * Teacher-forced greedy check against a reference continuation (the PyTorch peer's): prefill `prompt`, then
 * feed the reference tokens one at a time; our argmax at each step must equal the reference token wherever
 * the reference's top-1 margin (top1 − top2 logit) is at least `minMargin` (near-ties are counted, not judged).
 */
export async function checkAgainstReference(t: TargetModel, ref: { prompt: number[]; tokens: number[]; margins: number[] }, minMargin: number): Promise<TokenCheck> {
  const seq = t.newSequence('reference check');
  try {
    const ours: number[] = [];
    let r = await t.forward([{ seq, tokens: ref.prompt, want: 'last' }]);
    ours.push(r[0].nextTokens[0]);
    for (let i = 0; i + 1 < ref.tokens.length; i++) {
      r = await t.forward([{ seq, tokens: [ref.tokens[i]], want: 'last' }]);
      ours.push(r[0].nextTokens[0]);
    }
    let compared = 0, agreed = 0, skipped = 0, error: string | undefined;
    ours.forEach((x, i) => {
      const same = x === ref.tokens[i];
      if (ref.margins[i] < minMargin) { skipped++; return; }
      compared++;
      if (same) agreed++;
      else if (!error) error = `step ${i}: our token ${x} != the peer's ${ref.tokens[i]} (peer top-1 margin ${ref.margins[i].toFixed(3)} ≥ ${minMargin})`;
    });
    return { steps: ours.length, compared, agreed, skippedLowMargin: skipped, checked: `prompt of ${ref.prompt.length} tokens, ${ours.length} teacher-forced steps vs the peer's fp32 reference; judged where its top-1 margin ≥ ${minMargin}`, ...(error ? { error } : {}) };
  } finally {
    seq.close();
  }
}

/** Relative L2 distance ‖a − b‖ / ‖b‖. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { const d = a[i] - b[i]; num += d * d; den += b[i] * b[i]; }
  return Math.sqrt(num / (den || 1));
}

/** Top-1 minus top-2 of a logits row. */
export function topMargin(logits: Float32Array): number {
  let a = -Infinity, b = -Infinity;
  for (const x of logits) { if (x > a) { b = a; a = x; } else if (x > b) b = x; }
  return a - b;
}

export interface GreedyTrace { tokens: number[]; hidden: Float32Array[]; margins: number[] }

/** Prefill `prompt` then `steps` greedy steps on a fresh sequence; with logits, each step's top-1 margin. */
export async function greedyTrace(t: TargetModel, prompt: number[], steps: number, logits: boolean): Promise<GreedyTrace> {
  const seq = t.newSequence('greedy trace');
  try {
    const out: GreedyTrace = { tokens: [], hidden: [], margins: [] };
    let r = await t.forward([{ seq, tokens: prompt, want: 'last' }], { logits });
    for (let i = 0; ; i++) {
      out.tokens.push(r[0].nextTokens[0]);
      out.hidden.push(r[0].hidden);
      if (logits) out.margins.push(topMargin(r[0].logits!));
      if (i === steps) return out;
      r = await t.forward([{ seq, tokens: [r[0].nextTokens[0]], want: 'last' }], { logits });
    }
  } finally {
    seq.close();
  }
}
