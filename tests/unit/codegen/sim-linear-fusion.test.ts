// Operand and epilogue fusion into the linear kernels (docs/fusion.md) on the PTX machine against the
// interpreter, at the target fixture's shapes (H 256, intermediate 768) and an 8B-like K (4096): an
// RMSNorm computed in the next projection's x load, SiLU(gate)·up read straight from the gate/up output,
// and the residual adds stored by the projections' epilogues. N = 1, 3 take the GEMV, 5 and 8 the
// tensor-core kernel (both planned, gated on N).
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import { llamaProgram } from '../../../models/llama.ts';
import { defineProgram, rmsNorm } from '../../../dsl/index.ts';
import { reader, writer } from '../../../compiler/ir/tensor-data.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

/** Two Llama MLP blocks on a residual stream x: x += down(SiLU(gate)·up)(norm(x)), then an o-like projection. */
function block(H: number, I: number, layers = 2, wd: 'bf16' | 'fp8e4m3' = 'bf16') {
  return defineProgram('fz', { H, I }, (p) => {
    let x = p.input('x', ['N', 'H'], 'f32');
    for (let l = 0; l < layers; l++) {
      const h = rmsNorm(x, { eps: 1e-5, weight: p.param(`norm${l}`, ['H'], 'bf16') });
      const gu = h.linear(p.param(`gate_up${l}`, [2 * I, 'H'], wd));
      const act = gu.slice(-1, 0, I, 'I').silu().mul(gu.slice(-1, I, 2 * I, 'I'));
      x = x.add(act.linear(p.param(`down${l}`, ['H', 'I'], 'bf16')));
    }
    p.output('y', x);
  }).graph;
}

function check(H: number, I: number, n: number, layers = 2, maxN = 8, wd: 'bf16' | 'fp8e4m3' = 'bf16'): number[] {
  const g = block(H, I, layers, wd);
  const { inputs, params } = randomInputs(g, rng(H + I + n), new Map([['N', n]]));
  // weights at a checkpoint's scale (±3/√K per column, norm weights around 1): randomInputs' ±3 everywhere
  // makes sums of thousands whose cancellations the f32 contract cannot bound
  for (const [name, t] of params) {
    const r = reader(t), w = writer(t), K = t.shape[t.shape.length - 1];
    for (let i = 0; i < t.data.length; i++) w(i, name.startsWith('norm') ? 1 + r(i) / 12 : r(i) / Math.sqrt(K));
  }
  const want = interpret(g, inputs, params);
  const plan = compileProgram(g, { maxDims: { N: maxN } });
  return mismatches(runPlanSim(plan, inputs, params).y, want.y, 1e-4);
}

describe('linear fusion', () => {
  it('schedules one linear kernel per projection: norm and SiLU·up in the x loads, residuals in the epilogues', () => {
    const s = scheduleGraph(block(256, 768));
    expect(s.kernels.map((k) => k.kind)).toEqual(['linear', 'linear', 'linear', 'linear']);
    expect(s.kernels.map((k) => k.operand?.norms.length ?? -1)).toEqual([1, 0, 1, 0]);
    expect(s.kernels.map((k) => k.items.map((i) => i.node.op).join(','))).toEqual(['linear', 'linear,add', 'linear', 'linear,add']);
  });

  it('a Llama layer is 6 kernels at any N (was 9: two norm row kernels and the SiLU·up map are gone), attention as two launches, the down projection split along K from 5 rows', () => {
    const shape = {
      hiddenSize: 256, intermediateSize: 768, numLayers: 6, numHeads: 4, numKvHeads: 2, headDim: 64, vocabSize: 4096,
      rmsNormEps: 1e-5, tieWordEmbeddings: true, slots: 4, maxLen: 512, head: 'logits',
    } as const;
    const plan = compileProgram(llamaProgram(shape).graph, { maxDims: { N: 64, M: 64 } });
    for (const n of [1, 4, 5, 8]) {
      const run = plan.launches.filter((l) => evalGrid(l.grid[0], new Map([['N', n], ['M', n]])) > 0);
      // per layer qkv (+ norm), kv_write, attention (split over position chunks at these few rows: its
      // partials and their combine, attention-split.ts), o_proj (+ residual), gate_up (+ norm), down (+ SiLU·up,
      // residual); then the final norm, the row pick and the head. From 5 rows the down projection (K 768, four
      // column blocks) is split along K into 3 slices, whose reduce launch adds the residual (tc-split.ts)
      const tc = n >= 5;
      expect(run.length, `N = ${n}`).toBe(6 * (tc ? 8 : 7) + 3);
      const lin = tc ? 'linear_tc' : 'linear';
      const down = tc ? ['linear_tc_split', 'linear_tc_reduce'] : [lin];
      expect(run.slice(0, tc ? 8 : 7).map((l) => l.kernel.replace(/^llama_|\d+$/g, ''))).toEqual([lin, 'kv_write', 'attention_split', 'attention_combine', lin, lin, ...down]);
    }
  });

  it.each([1, 2, 3, 4, 5, 8])('fixture shapes H 256, I 768 at N = %i', (n) => {
    expect(check(256, 768, n)).toEqual([]);
  }, 300_000);

  // the down projection's SiLU·up x, staged once per block in shared memory for GEMV passes of 2-4 rows
  // (kernel-linear.ts: STAGE_BYTES): K = 768 (4 k's per thread and trip) and K = 100 (one: K not a multiple of 8)
  it('stages the fused SiLU·up x in shared memory for 2-4-row GEMV passes (not for 1 row), same values', () => {
    const plan = compileProgram(block(256, 768, 1), { maxDims: { N: 4 } });
    const down = Object.values(plan.modules).filter((t) => t.includes(' xg['));
    expect(down.length).toBe(1);
    expect(down[0]).toMatch(/\.shared \.align 16 \.b8 xg\[12288\]/);
    for (const n of [2, 4]) expect(check(256, 100, n, 1, 4)).toEqual([]);
    expect(check(256, 768, 3, 1, 4)).toEqual([]);
  }, 300_000);

  it.each([1, 5])('8B-like K = 4096 at N = %i', (n) => {
    expect(check(4096, 128, n, 1)).toEqual([]);
  }, 600_000);

  // 70 rows at maxDims.N 80: two weight passes of 64 rows (the norm's scales go through shared memory per
  // pass); K = 96 and 80 end inside a 64-wide k trip
  it('tensor-core kernel: two passes, K not a multiple of the k trip', () => {
    expect(check(96, 80, 70, 2, 80)).toEqual([]);
  }, 300_000);

  // e4m3 gate/up weights: 128-wide k trips at maxDims.N ≤ 32, so 16 threads stage a row and sum its squares
  it.each([[5, 8], [20, 32]] as const)('fp8e4m3 gate/up weights (the norm fused) at N = %i, maxDims.N %i', (n, maxN) => {
    expect(check(256, 768, n, 1, maxN, 'fp8e4m3')).toEqual([]);
  }, 300_000);

  it('a norm read by two projections keeps its row kernel (stored once); each x load applies its own weight', () => {
    const g = defineProgram('fz2', { H: 256 }, (p) => {
      const x = p.input('x', ['N', 'H'], 'f32');
      const r = rmsNorm(x, { eps: 1e-5 });
      const a = r.mul(p.param('wa', ['H'], 'bf16')).linear(p.param('A', [64, 'H'], 'bf16'));
      const c = r.mul(p.param('wc', ['H'], 'bf16')).linear(p.param('C', [32, 'H'], 'bf16'));
      p.output('a', a);
      p.output('c', c);
    }).graph;
    const s = scheduleGraph(g);
    expect(s.kernels.map((k) => k.kind)).toEqual(['row', 'linear', 'linear']);
    expect(s.kernels.slice(1).map((k) => k.operand?.norms.length)).toEqual([0, 0]);
    for (const n of [2, 6]) {
      const { inputs, params } = randomInputs(g, rng(n), new Map([['N', n]]));
      const want = interpret(g, inputs, params);
      const got = runPlanSim(compileProgram(g, { maxDims: { N: 8 } }), inputs, params);
      for (const o of ['a', 'c']) expect(mismatches(got[o], want[o], 1e-3), `${o} at N = ${n}`).toEqual([]);
    }
  }, 300_000);
});
