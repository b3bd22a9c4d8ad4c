// The tiled f32 GEMM (compiler/codegen/ptx/kernel-gemm.ts) on the PTX machine against the interpreter:
// matmul (B [K, N]) and many-row linear (B = wᵀ, w [N, K]) with M and N that are and are not whole tiles,
// several k steps, a 3-D linear input; and a training step whose linears and weight gradients take it.
import { describe, expect, it } from 'vitest';
import { trainingForm } from '../../../compiler/autodiff/training-form.ts';
import { compileProgram } from '../../../compiler/compile.ts';
import { GEMM_BM, GEMM_BN, gemmSlices } from '../../../compiler/schedule/gemm-shape.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

// values over six decades, so the tf32 hi/lo split is exercised across exponents
const rand = (n: number, seed: number): Float32Array => { const r = rng(seed); return Float32Array.from({ length: n }, () => (r.next() * 2 - 1) * 10 ** (r.int(-3, 2))); };

describe('tiled GEMM on the PTX machine', () => {
  it.each([
    ['tf32x3', 'matmul, partial tiles in M and N', 'matmul', [130], 68, 48],
    ['tf32x3', 'matmul, whole tiles', 'matmul', [128], 64, 16],
    ['tf32x3', 'linear (B = wT), partial tiles, 3-D input', 'linear', [2, 150], 36, 32],
    ['fma', 'matmul, partial tiles in M and N', 'matmul', [130], 68, 48],
    ['fma', 'linear (B = wT), partial tiles, 3-D input', 'linear', [2, 150], 36, 32],
    ['tf32', 'matmul, partial tiles in M and N', 'matmul', [130], 68, 48],
  ] as const)('%s: %s', (mode, _, op, lead, N, K) => {
    process.env.ARCTICC_GEMM = mode;
    const M = lead.reduce((a, b) => a * b, 1);
    const x = Node.make('input', [], { name: 'x' }, 'f32', [...lead, K]);
    const w = op === 'matmul' ? Node.make('input', [], { name: 'w' }, 'f32', [K, N]) : Node.make('param', [], { name: 'w' }, 'f32', [N, K]);
    const g = makeGraph('t', [x, ...(op === 'matmul' ? [w] : [])], [{ name: 'y', node: Node.make(op, [x, w]) }]);
    const plan = compileProgram(g, { maxDims: {} });
    delete process.env.ARCTICC_GEMM;
    expect(plan.kernels.map((k) => k.name)).toEqual(['t_gemm0']);
    expect(plan.modules.t_gemm0.includes('mma.sync')).toBe(mode !== 'fma');
    const inputs: Record<string, ReturnType<typeof hostTensor>> = { x: hostTensor('f32', [...lead, K], rand(M * K, 1)) };
    const params = new Map<string, ReturnType<typeof hostTensor>>();
    if (op === 'matmul') inputs.w = hostTensor('f32', [K, N], rand(K * N, 2)); else params.set('w', hostTensor('f32', [N, K], rand(K * N, 2)));
    const want = interpret(g, inputs, params), got = runPlanSim(plan, inputs, params);
    // f32-accurate: within a few ulp of the largest terms (|x·w| ≤ 1e4, K ≤ 48); one tf32 term is not
    if (mode === 'tf32') {
      expect(mismatches(got.y, want.y, 2e-3).length).toBeGreaterThan(0);
      expect(mismatches(got.y, want.y, 100)).toEqual([]);
    } else expect(mismatches(got.y, want.y, 2e-3)).toEqual([]);
  }, 120_000);

  it.each([
    ['fma', 'matmul', 70, 36, 512], ['tf32x3', 'matmul', 70, 36, 512], ['fma', 'linear', 300, 20, 528],
  ] as const)('%s: %s split along K (few tiles, long K): slices summed by a reduce launch', (mode, op, M, N, K) => {
    process.env.ARCTICC_GEMM = mode;
    const x = Node.make('input', [], { name: 'x' }, 'f32', [M, K]);
    const w = op === 'matmul' ? Node.make('input', [], { name: 'w' }, 'f32', [K, N]) : Node.make('param', [], { name: 'w' }, 'f32', [N, K]);
    const g = makeGraph('t', [x, ...(op === 'matmul' ? [w] : [])], [{ name: 'y', node: Node.make(op, [x, w]) }]);
    const plan = compileProgram(g, { maxDims: {} });
    delete process.env.ARCTICC_GEMM;
    const slices = gemmSlices({ M, N, K, bT: op === 'linear', aT: false }, GEMM_BM, GEMM_BN);
    expect(slices).toBeGreaterThan(1);
    expect(plan.kernels.map((k) => k.name)).toEqual(['t_gemm0', 't_gemm_reduce1']);
    expect(plan.launches[0].grid[0]).toBe(Math.ceil(M / GEMM_BM) * Math.ceil(N / GEMM_BN) * slices);
    const inputs: Record<string, ReturnType<typeof hostTensor>> = { x: hostTensor('f32', [M, K], rand(M * K, 1)) };
    const params = new Map<string, ReturnType<typeof hostTensor>>();
    if (op === 'matmul') inputs.w = hostTensor('f32', [K, N], rand(K * N, 2)); else params.set('w', hostTensor('f32', [N, K], rand(K * N, 2)));
    const want = interpret(g, inputs, params), got = runPlanSim(plan, inputs, params);
    // the f32 bound grows with K (terms up to 1e4): the K = 48 tolerance scaled by K / 48
    expect(mismatches(got.y, want.y, 2e-3 * K / 48)).toEqual([]);
  }, 120_000);

  it('the GEMM mode as a compile option (beats $ARCTICC_GEMM), for arcticc train --gemm', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', [128, 32]);
    const w = Node.make('input', [], { name: 'w' }, 'f32', [32, 64]);
    const g = makeGraph('t', [x, w], [{ name: 'y', node: Node.make('matmul', [x, w]) }]);
    process.env.ARCTICC_GEMM = 'fma';
    try {
      expect(compileProgram(g, { maxDims: {}, gemm: 'tf32x3' }).modules.t_gemm0.includes('mma.sync')).toBe(true);
      expect(compileProgram(g, { maxDims: {} }).modules.t_gemm0.includes('mma.sync')).toBe(false);
    } finally { delete process.env.ARCTICC_GEMM; }
    expect(compileProgram(g, { maxDims: {}, gemm: 'fma' }).modules.t_gemm0.includes('mma.sync')).toBe(false);
  });

  it.each(['tf32x3', 'fma'] as const)('%s: matmul of a transpose reads its source in place (no transpose kernel)', (mode) => {
    process.env.ARCTICC_GEMM = mode;
    const M = 132, K = 48, N = 68;
    const y = Node.make('input', [], { name: 'y' }, 'f32', [K, M]);
    const w = Node.make('input', [], { name: 'w' }, 'f32', [K, N]);
    const g = makeGraph('t', [y, w], [{ name: 'o', node: Node.make('matmul', [Node.make('permute', [y], { perm: [1, 0] }), w]) }]);
    const plan = compileProgram(g, { maxDims: {} });
    delete process.env.ARCTICC_GEMM;
    expect(plan.kernels.map((k) => k.name)).toEqual(['t_gemm0']);
    const inputs = { y: hostTensor('f32', [K, M], rand(K * M, 5)), w: hostTensor('f32', [K, N], rand(K * N, 6)) };
    const want = interpret(g, inputs, new Map()), got = runPlanSim(plan, inputs, new Map());
    expect(mismatches(got.o, want.o, 2e-3)).toEqual([]);
  }, 120_000);

  it.each(['fma', 'tf32x3'] as const)('%s: a training step at 256 rows: loss and every weight gradient, the big contractions on the GEMM', (mode) => {
    process.env.ARCTICC_GEMM = mode;
    const tf = trainingForm(lstmSpeculator({ hiddenSize: 16, width: 16, vocabSize: 128, nPredict: 2, scaleInput: true, weightDtype: () => 'f32' }).graph, { rows: 256 });
    const plan = compileProgram(tf.graph, { maxDims: {} });
    delete process.env.ARCTICC_GEMM;
    expect(plan.kernels.filter((k) => k.name.includes('gemm')).length).toBeGreaterThan(0);
    const { inputs, params } = randomInputs(tf.graph, rng(11), new Map());
    const r = rng(5);
    inputs.tokens = hostTensor('i32', [256], Int32Array.from({ length: 256 }, () => r.int(0, 127)));
    inputs.labels = hostTensor('i32', [256, tf.nPredict], Int32Array.from({ length: 256 * tf.nPredict }, () => r.int(0, 127)));
    const want = interpret(tf.graph, inputs, params);
    const got = runPlanSim(plan, inputs, params);
    expect(mismatches(got.loss, want.loss, 1e-4)).toEqual([]);
    for (const p of tf.params) expect(mismatches(got[p.output], want[p.output], 2e-4), p.name).toEqual([]);
  }, 300_000);
});
