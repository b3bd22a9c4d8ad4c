// argmax(linear(x, w), -1) fused into the linear (per-block partials, then a reduce launch) on the PTX
// machine, through both variants (GEMV for ≤ 4 rows, tensor cores above), against the interpreter's
// indices exactly: batches 1, 3, 5, 16, 33, 64, N not a multiple of any block width, a NaN row (every
// logit NaN: index 0, NaN counts as the largest) and a duplicated maximal column (the lower index wins).
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { lmHeadArgmax } from '../../../compiler/passes/lm-head-argmax.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import { rng } from '../../support/random-graph.ts';
import { randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

function graph(n: number, k: number, wd: DType = 'bf16') {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
  return makeGraph('am', [x], [{ name: 'tok', node: Node.make('argmax', [Node.make('linear', [x, w])], { axis: 1 }) }]);
}

/** An fp8 head as fp8-matmul writes it: argmax(mul(linear(x, w), broadcast(scale[N])), -1). */
function scaledGraph(n: number, k: number, wd: DType = 'fp8e4m3') {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
  const scale = Node.make('param', [], { name: 'scale' }, 'f32', [n]);
  const logits = Node.make('mul', [Node.make('linear', [x, w]), Node.make('broadcast', [scale], { shape: ['B', n] })]);
  return makeGraph('am', [x], [{ name: 'tok', node: Node.make('argmax', [logits], { axis: 1 }) }]);
}

describe('fused argmax(linear)', () => {
  it('schedules one linear kernel holding the argmax, and no logits buffer', () => {
    // the scheduler fuses only what lm-head-argmax marked (compileProgram runs the pass)
    expect(scheduleGraph(graph(100, 64)).kernels.every((k) => !k.partials)).toBe(true);
    const s = scheduleGraph(lmHeadArgmax(graph(100, 64)));
    expect(s.kernels.map((k) => `${k.kind}: ${k.items.map((i) => `${i.node.op}${i.store ? '*' : ''}`).join(' ')}`)).toEqual(['linear: linear argmax*']);
    expect(s.buffers.filter((b) => b.kind === 'temp').map((b) => `${b.dtype}[${b.shape.join(',')}]`)).toEqual(['f32[B,13]', 'i32[B,13]']);
  });

  it.each([
    [100, 64, 1], [100, 64, 3], [100, 72, 5], [300, 40, 16], [37, 136, 33], [100, 64, 64], [2200, 16, 2],
  ] as const)('N=%i K=%i at batch %i matches the interpreter', (n, k, batch) => {
    const g = graph(n, k);
    const { inputs, params } = randomInputs(g, rng(n + 3 * k + batch), new Map([['B', batch]]));
    const plan = compileProgram(g, { maxDims: { B: 64 } });
    expect([...runPlanSim(plan, inputs, params).tok.data]).toEqual([...interpret(g, inputs, params).tok.data]);
  });

  it.each([2, 9])('a NaN row and a duplicated best column at batch %i', (batch) => {
    const n = 70, k = 16, g = graph(n, k);
    const { inputs, params } = randomInputs(g, rng(11), new Map([['B', batch]]));
    const x = inputs.x.data as Float32Array, w = params.get('w')!.data as Uint16Array;
    x.fill(1, 0, k); // row 0: all ones, so the column with the largest weight sum wins
    for (let j = 0; j < k; j++) { w[5 * k + j] = 0x4000; w[61 * k + j] = 0x4000; } // columns 5 and 61: all 2.0 (bf16)
    x[k + 3] = NaN; // row 1: every logit NaN
    const want = interpret(g, inputs, params).tok.data;
    expect([want[0], want[1]]).toEqual([5, 0]);
    expect([...runPlanSim(compileProgram(g, { maxDims: { B: 16 } }), inputs, params).tok.data]).toEqual([...want]);
  });
});

describe('fused argmax of a scaled (fp8) head', () => {
  it('schedules one linear kernel holding the scale mul and the argmax, and no logits buffer', () => {
    const s = scheduleGraph(lmHeadArgmax(scaledGraph(100, 64)));
    expect(s.kernels.map((k) => `${k.kind}: ${k.items.map((i) => `${i.node.op}${i.store ? '*' : ''}`).join(' ')}`)).toEqual(['linear: linear mul argmax*']);
    expect(s.kernels[0].partials?.scale).toBe('param:scale');
    expect(s.buffers.filter((b) => b.kind === 'temp').map((b) => `${b.dtype}[${b.shape.join(',')}]`)).toEqual(['f32[B,13]', 'i32[B,13]']);
    // the logits (or their scaled form) with another use are not fused
    const g = scaledGraph(100, 64);
    const mul = g.outputs[0].node.src[0];
    const both = makeGraph('am2', g.inputs, [...g.outputs, { name: 'logits', node: mul }]);
    expect(scheduleGraph(lmHeadArgmax(both)).kernels.every((k) => !k.partials)).toBe(true);
  });

  // K = 40: not a multiple of 16, so fp8 stays on the GEMV at every batch; the others reach the tensor cores
  it.each([
    [100, 64, 1, 'fp8e4m3'], [100, 80, 5, 'fp8e4m3'], [300, 48, 16, 'fp8e4m3'], [37, 144, 33, 'fp8e4m3'], [101, 64, 64, 'fp8e4m3'],
    [37, 40, 33, 'fp8e4m3'], [2200, 16, 3, 'fp8e4m3'], [99, 72, 16, 'bf16'], [99, 72, 2, 'bf16'],
  ] as const)('N=%i K=%i at batch %i, %s weights, matches the interpreter', (n, k, batch, wd) => {
    const g = scaledGraph(n, k, wd);
    const { inputs, params } = randomInputs(g, rng(n + 5 * k + batch), new Map([['B', batch]]));
    const plan = compileProgram(g, { maxDims: { B: 64 } });
    expect(plan.launches.map((l) => l.kernel).filter((x) => x.includes('argmax')).length).toBeGreaterThan(0);
    expect([...runPlanSim(plan, inputs, params).tok.data]).toEqual([...interpret(g, inputs, params).tok.data]);
  });

  it.each([2, 9])('scaled ties, a NaN row and a negative scale at batch %i', (batch) => {
    const n = 70, k = 16, g = scaledGraph(n, k);
    const { inputs, params } = randomInputs(g, rng(13), new Map([['B', batch]]));
    const x = inputs.x.data as Float32Array, w = params.get('w')!.data as Uint8Array, sc = params.get('scale')!.data as Float32Array;
    x.fill(1, 0, k); // row 0: all ones
    for (let j = 0; j < k; j++) { w[5 * k + j] = 0x40; w[61 * k + j] = 0x38; w[66 * k + j] = 0xc0; } // 2.0, 1.0, -2.0 (e4m3)
    sc[5] = 3; sc[61] = 6; sc[66] = -3; // columns 5, 61, 66 all score 96 = the row's max: the lowest index wins
    for (let c = 0; c < n; c++) if (c !== 5 && c !== 61 && c !== 66) sc[c] = Math.min(Math.abs(sc[c]), 1e-3);
    x[k + 3] = NaN; // row 1: every logit NaN
    const want = interpret(g, inputs, params).tok.data;
    expect([want[0], want[1]]).toEqual([5, 0]);
    expect([...runPlanSim(compileProgram(g, { maxDims: { B: 16 } }), inputs, params).tok.data]).toEqual([...want]);
  });
});
