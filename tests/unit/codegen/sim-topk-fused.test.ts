// topk(linear(x, w), k) fused into the linear (each block's first k pairs per row, then a top-k reduce launch)
// on the PTX machine, through both variants (GEMV for ≤ 4 rows, tensor cores above; f32 weights: the GEMV at every
// batch), bf16, f32 and fp8-scaled heads:
// indices equal the interpreter's exactly and values within f32 accumulation error (the kernels sum in another
// order than the interpreter's float64), and both equal the unfused plan (the same linear kernel storing the
// logits, then a row top-k) bit for bit. N not a multiple of any block width, k = 1 (equal to argmax), ties
// across blocks, NaN rows, and blocks with fewer than k columns.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { lmHeadTopk } from '../../../compiler/passes/lm-head-topk.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import { topkHeadsDrafter } from '../../../examples/drafters/topk-heads-drafter.ts';
import { compileSpeculator } from '../../../runtime/compile-speculator.ts';
import { rng } from '../../support/random-graph.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { columnsPerWarp } from '../../../compiler/codegen/ptx/kernel-linear.ts';
import { tcShape } from '../../../compiler/codegen/ptx/kernel-linear-tc.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

/** top-k of a bf16/f32 head, or of an fp8 head's scaled logits (as fp8-matmul writes it) */
function graph(n: number, kdim: number, k: number, wd: DType = 'bf16', extra: 'none' | 'argmax' = 'none'): Graph {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', kdim]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, kdim]);
  let logits = Node.make('linear', [x, w]);
  if (wd === 'fp8e4m3') {
    const scale = Node.make('param', [], { name: 'scale' }, 'f32', [n]);
    logits = Node.make('mul', [logits, Node.make('broadcast', [scale], { shape: ['B', n] })]);
  }
  const outs = [
    { name: 'vals', node: Node.make('topk_values', [logits], { k }) },
    { name: 'ids', node: Node.make('topk_indices', [logits], { k }) },
  ];
  if (extra === 'argmax') outs.push({ name: 'tok', node: Node.make('argmax', [Node.make('linear', [x, w])], { axis: 1 }) });
  return makeGraph('tk', [x], outs);
}

/** The same graph with the logits also returned: nothing fuses, the row kernel computes the top-k. */
const unfused = (g: Graph): Graph => makeGraph('tk_plain', g.inputs, [...g.outputs, { name: 'logits', node: g.outputs[0].node.src[0] }]);

function check(g: Graph, inputs: Record<string, HostTensor>, params: Map<string, HostTensor>): void {
  const plan = compileProgram(g, { maxDims: { B: 64 } });
  expect(plan.launches.some((l) => l.kernel.includes('topk_reduce'))).toBe(true);
  const got = runPlanSim(plan, inputs, params);
  const want = interpret(g, inputs, params);
  expect([...got.ids.data]).toEqual([...want.ids.data]);
  expect(mismatches(got.vals, want.vals)).toEqual([]);
  const plain = compileProgram(unfused(g), { maxDims: { B: 64 } });
  expect(plain.launches.some((l) => l.kernel.includes('topk'))).toBe(false);
  const ref = runPlanSim(plain, inputs, params);
  expect([...got.ids.data]).toEqual([...ref.ids.data]);
  expect([...got.vals.data]).toEqual([...ref.vals.data]);
}

describe('fused topk(linear)', () => {
  it('schedules one linear kernel holding both topk nodes, partials of k pairs per block, and no logits buffer', () => {
    expect(scheduleGraph(graph(100, 64, 4)).kernels.every((k) => !k.partials)).toBe(true);
    const s = scheduleGraph(lmHeadTopk(graph(100, 64, 4)));
    expect(s.kernels.map((k) => `${k.kind}: ${k.items.map((i) => `${i.node.op}${i.store ? '*' : ''}`).join(' ')}`)).toEqual(['linear: linear topk_values* topk_indices*']);
    expect(s.kernels[0].partials?.k).toBe(4);
    expect(s.buffers.filter((b) => b.kind === 'temp').map((b) => `${b.dtype}[${b.shape.join(',')}]`)).toEqual(['f32[B,52]', 'i32[B,52]']);
  });

  it('the marking leaves the interpreter\'s results as they are', () => {
    const g = graph(100, 64, 4, 'fp8e4m3');
    const { inputs, params } = randomInputs(g, rng(5), new Map([['B', 3]]));
    const marked = lmHeadTopk(g);
    expect(marked).not.toBe(g);
    expect(interpret(marked, inputs, params)).toEqual(interpret(g, inputs, params));
  });

  it.each([
    [100, 64, 4, 1, 'bf16'], [100, 64, 8, 3, 'bf16'], [37, 72, 5, 5, 'bf16'], [300, 40, 3, 16, 'bf16'], [2200, 16, 8, 2, 'bf16'],
    [99, 64, 2, 33, 'bf16'], [9000, 16, 8, 1, 'bf16'], [100, 64, 1, 2, 'bf16'], [100, 64, 1, 9, 'bf16'],
    [100, 64, 4, 1, 'fp8e4m3'], [101, 80, 6, 16, 'fp8e4m3'], [37, 40, 8, 33, 'fp8e4m3'], [99, 72, 3, 4, 'fp8e4m3'],
    [100, 64, 4, 1, 'f32'], [77, 36, 8, 6, 'f32'], [300, 30, 5, 3, 'f32'], [100, 64, 1, 9, 'f32'],
  ] as const)('N=%i K=%i k=%i at batch %i, %s weights, matches the interpreter and the unfused plan', (n, kd, k, batch, wd) => {
    const g = graph(n, kd, k, wd);
    const { inputs, params } = randomInputs(g, rng(n + 7 * kd + 3 * k + batch), new Map([['B', batch]]));
    check(g, inputs, params);
  });

  it.each([3, 9])('k = 1 equals argmax at batch %i', (batch) => {
    const g = graph(300, 48, 1, 'bf16', 'argmax');
    const { inputs, params } = randomInputs(g, rng(21 + batch), new Map([['B', batch]]));
    const got = runPlanSim(compileProgram(g, { maxDims: { B: 16 } }), inputs, params);
    expect([...got.ids.data]).toEqual([...got.tok.data]);
    expect([...got.ids.data]).toEqual([...interpret(g, inputs, params).ids.data]);
  });

  it.each([2, 9])('ties across blocks and a NaN row at batch %i', (batch) => {
    const n = 70, kd = 16, k = 5, g = graph(n, kd, k);
    const { inputs, params } = randomInputs(g, rng(17), new Map([['B', batch]]));
    const x = inputs.x.data as Float32Array, w = params.get('w')!.data as Uint16Array;
    x.fill(1, 0, kd); // row 0: all ones, so columns with equal weight sums tie
    for (const c of [5, 61, 12, 33]) for (let j = 0; j < kd; j++) w[c * kd + j] = 0x4000; // 2.0: four columns tie for the top
    for (let j = 0; j < kd; j++) w[40 * kd + j] = 0x3ff0; // 1.875: the fifth
    x[kd + 3] = NaN; // row 1: every logit NaN: indices 0..k-1
    const want = interpret(g, inputs, params);
    expect([...want.ids.data.slice(0, k)]).toEqual([5, 12, 33, 61, 40]);
    expect([...want.ids.data.slice(k, 2 * k)]).toEqual([0, 1, 2, 3, 4]);
    check(g, inputs, params);
  });
});

// the shape rules' variants (sim-variants.test.ts has them stored and with argmax): GEMV 2 and 4 columns per
// warp, tensor-core [8,1] and [8,2], the e4m3 128-wide trip (maxDims.B ≤ 32) and the 64-wide one
describe('fused top-k through every linear variant', () => {
  it.each([
    [8449, 16, 8, 2, 8, 'bf16'], [8450, 16, 3, 3, 8, 'fp8e4m3'], [16897, 16, 8, 1, 8, 'bf16'], [16898, 16, 5, 1, 8, 'fp8e4m3'],
    [33795, 16, 8, 5, 8, 'bf16'], [33800, 128, 4, 6, 8, 'fp8e4m3'], [67590, 16, 8, 6, 8, 'bf16'], [67601, 16, 6, 7, 8, 'fp8e4m3'],
    [67585, 16, 2, 5, 40, 'fp8e4m3'],
  ] as const)('N=%i K=%i k=%i at batch %i (maxDims.B %i), %s weights', (n, kd, k, batch, maxB, wd) => {
    const g = graph(n, kd, k, wd);
    const { inputs, params } = randomInputs(g, rng(n + kd + k + batch), new Map([['B', batch]]));
    const plan = compileProgram(g, { maxDims: { B: maxB } });
    const dims = new Map([['B', batch]]);
    const runs = plan.launches.filter((l) => evalGrid(l.grid[0], dims) > 0);
    expect(runs.map((l) => l.kernel.replace(/^tk_/, '').replace(/\d+$/, ''))).toEqual(batch < 5 ? ['linear_topk', 'topk_reduce'] : ['linear_tc_topk', 'topk_reduce']);
    const { warps, tiles } = tcShape(n);
    expect(evalGrid(runs[0].grid[0], dims)).toBe(Math.ceil(n / (batch < 5 ? 8 * columnsPerWarp(n, wd === 'fp8e4m3' ? 1 : 2) : warps * 16 * tiles)));
    const got = runPlanSim(plan, inputs, params), want = interpret(g, inputs, params);
    expect([...got.ids.data]).toEqual([...want.ids.data]);
    expect(mismatches(got.vals, want.vals)).toEqual([]);
  });
});

describe('a tree-draft DSL drafter (examples/drafters/topk-heads-drafter.ts)', () => {
  it.each([1, 5])('compiled as every path compiles it, its draft matches the interpreter at batch %i', (batch) => {
    const o = { hiddenSize: 48, width: 32, vocabSize: 300, nPredict: 3, scaleInput: false, tieWeights: false, weightDtype: () => 'bf16' as const, config: {} };
    const g = topkHeadsDrafter(o, 4).graph;
    const { graph, plan } = compileSpeculator(g, { maxBatch: 8 });
    expect(graph.outputs[0].node.src.every((n) => n.op === 'topk_indices' && n.arg?.epilogue === 'linear')).toBe(true);
    expect(plan.launches.filter((l) => l.kernel.includes('topk_reduce')).length).toBe(2 * o.nPredict); // GEMV and tensor-core variants
    const { inputs, params } = randomInputs(g, rng(40 + batch), new Map([['B', batch]]));
    expect([...runPlanSim(plan, inputs, params).draft.data]).toEqual([...interpret(g, inputs, params).draft.data]);
  });
});
