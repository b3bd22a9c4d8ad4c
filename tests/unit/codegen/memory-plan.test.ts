// Memory planning: temporaries share the arena once their last reader has run; live ones never overlap.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { bufferBytes, planArena } from '../../../compiler/schedule/memory-plan.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { CORPUS_SIZE, corpusGraph } from '../../ptx/random-graphs.ts';
import { crossEntropyChunk } from '../../../compiler/autodiff/training-form.ts';
import { ceHeadGraph } from '../../support/ce-head.ts';

/** [first, last] launch index per temp, from the plan's launch arguments. */
function liveness(p: ExecutionPlan): Map<string, [number, number]> {
  const live = new Map<string, [number, number]>();
  p.launches.forEach((l, i) => l.args.forEach((a) => {
    if (!('buffer' in a) || !p.buffers.some((b) => b.id === a.buffer && b.kind === 'temp')) return;
    const r = live.get(a.buffer);
    if (r) r[1] = i; else live.set(a.buffer, [i, i]);
  }));
  return live;
}

function overlaps(p: ExecutionPlan): string[] {
  const live = liveness(p);
  const temps = p.buffers.filter((b) => b.kind === 'temp');
  const out: string[] = [];
  for (const a of temps) for (const b of temps) {
    if (a.id >= b.id) continue;
    const [a0, a1] = live.get(a.id)!, [b0, b1] = live.get(b.id)!;
    if (a1 < b0 || b1 < a0) continue; // never live together
    const ae = a.offset! + bufferBytes(a.dtype, a.shape, p.maxDims), be = b.offset! + bufferBytes(b.dtype, b.shape, p.maxDims);
    if (a.offset! < be && b.offset! < ae) out.push(`${a.id} and ${b.id}`);
  }
  return out;
}

describe('arena of the speculators', () => {
  const lstm = compileProgram(lstmSpeculator({ hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true }).graph, { maxDims: { B: 64 } });
  const temps = lstm.buffers.filter((b) => b.kind === 'temp');
  const total = temps.reduce((s, b) => s + bufferBytes(b.dtype, b.shape, lstm.maxDims), 0);

  it('reuses dead buffers; the fused head keeps per-block argmax partials, never [64, 128256] logits', () => {
    expect(temps.filter((b) => b.shape.includes(128256))).toEqual([]);
    // one step's partials and gate pre-activations, and the gate projection's K-split scratch (tc-split.ts:
    // [16384, 4096] is 256 blocks of 4 warps at ≤ 64 rows, so 3 slices of [64, 16384] f32)
    const partials = 2 * 64 * 16032 * 4, gates = 64 * 16384 * 4, split = 3 * 64 * 16384 * 4;
    expect(temps.filter((b) => b.shape.length === 3 && b.shape[0] === 3 && b.shape[2] === 16384).length).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(3 * partials);
    expect(lstm.arenaBytes).toBeLessThan(1.2 * (partials + gates + split));
    expect(lstm.arenaBytes).toBeLessThan(total / 2);
  });

  it('never overlaps two temporaries that are live at the same launch, and aligns every offset to 16', () => {
    expect(overlaps(lstm)).toEqual([]);
    for (const b of temps) expect(b.offset! % 16).toBe(0);
    const mlp = compileProgram(mlpSpeculator({ hiddenSize: 64, width: 48, vocabSize: 512, nPredict: 4, scaleInput: false, tieWeights: false }).graph, { maxDims: { B: 64 } });
    expect(overlaps(mlp)).toEqual([]);
  });

  it('holds for every graph of the random corpus', () => {
    for (let i = 0; i < CORPUS_SIZE; i++) expect(overlaps(compileProgram(corpusGraph(i), { maxDims: { B: 16 } })), `graph ${i}`).toEqual([]);
  });
});

describe('planArena', () => {
  const t = (id: string, n: number) => ({ id, dtype: 'f32' as const, shape: [n] });
  it('gives a buffer the space of one whose last use came before its first', () => {
    const plan = planArena([t('a', 8), t('b', 8), t('c', 8)], [['a'], ['a', 'b'], ['b', 'c']], {});
    // a dies at launch 1; c starts at launch 2, so it takes a's 32 bytes; b (live with both) sits after
    expect(plan.offsets.get('a')).toBe(0);
    expect(plan.offsets.get('b')).toBe(32);
    expect(plan.offsets.get('c')).toBe(0);
    expect(plan.arenaBytes).toBe(64);
  });

  it('does not reuse a buffer read by the launch that writes the new one', () => {
    const plan = planArena([t('a', 4), t('b', 4)], [['a'], ['a', 'b']], {});
    expect(plan.offsets.get('b')).toBe(16);
  });

  it('sizes symbolic dims with maxDims and rounds up to 16 bytes', () => {
    const plan = planArena([{ id: 'x', dtype: 'bf16', shape: ['B', 3] }], [['x']], { B: 5 });
    expect(plan.bytes.get('x')).toBe(32);
  });
});

describe('the chunked LM-head cross entropy (linearCrossEntropy) at a Llama-3 vocabulary', () => {
  // 8096 rows × V 128256: f32 logits of one head are 4.15 GB; planned, never run
  const M = 8096, V = 128256, K = 4096, logits = M * V * 4;
  it('plans one head step (loss, dX, dW) in under a quarter of its logits; the unchunked one holds two [rows, V] tensors', () => {
    const chunked = ceHeadGraph(M, K, V, crossEntropyChunk(M, V));
    expect(chunked.chunks).toBe(32);
    const plan = compileProgram(chunked.graph, { maxDims: {} });
    const temps = plan.buffers.filter((b) => b.kind === 'temp');
    expect(temps.filter((b) => b.shape.includes(V))).toEqual([]);
    expect(plan.arenaBytes).toBeLessThan(logits / 4);
    // the weight gradient is written in place by the chunks' GEMMs (no [V, K] copy), W read in place
    expect(temps.filter((b) => bufferBytes(b.dtype, b.shape, {}) >= V * K * 4 / 8)).toEqual([]);
    expect(overlaps(plan)).toEqual([]);
    const whole = compileProgram(ceHeadGraph(M, K, V, V).graph, { maxDims: {} });
    expect(whole.arenaBytes).toBeGreaterThan(logits);
    expect(plan.arenaBytes).toBeLessThan(whole.arenaBytes / 10);
  });
});
