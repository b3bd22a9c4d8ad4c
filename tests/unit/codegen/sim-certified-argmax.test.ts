// The certified argmax head (lm-head-certify, docs/certified-argmax.md) on the PTX machine, whole plans: the
// one-term tensor-core kernel, the certify reduce, the gated three-term fallback and its reduce. Tokens equal the
// interpreter's exactly for rows that certify, for rows built so the one-term logits put two columns in the wrong
// order (the exact recompute of the candidates fixes it), for rows with more near-tied columns than candidates
// (the certificate fails and the fallback computes them), and when every row fails; bf16 and fp8-scaled heads, the
// [4,1], [8,1] and [8,2] block shapes, static and symbolic batch, and the GEMV at B ≤ 4 (not certified).
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { maxRowNorm, f32Up } from '../../../compiler/codegen/derive-weights.ts';
import { tcShape } from '../../../compiler/codegen/ptx/kernel-linear-tc.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor, reader, writer } from '../../../compiler/ir/tensor-data.ts';
import { lmHeadArgmax } from '../../../compiler/passes/lm-head-argmax.ts';
import { CERT_CANDIDATES, lmHeadCertify } from '../../../compiler/passes/lm-head-certify.ts';
import { rng } from '../../support/random-graph.ts';
import { randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

/** argmax over a bf16 head, or an fp8 head's scaled logits, batch `b` (a dim name or a number) */
function graph(n: number, k: number, wd: DType, b: string | number = 'B'): Graph {
  const x = Node.make('input', [], { name: 'x' }, 'f32', [b, k]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
  let logits = Node.make('linear', [x, w]);
  if (wd === 'fp8e4m3') logits = Node.make('mul', [logits, Node.make('broadcast', [Node.make('param', [], { name: 'scale' }, 'f32', [n])], { shape: [b, n] })]);
  return makeGraph('cert', [x], [{ name: 'tok', node: Node.make('argmax', [logits], { axis: 1 }) }]);
}

const certified = (g: Graph): Graph => lmHeadCertify(lmHeadArgmax(g));

/** The fail flags' buffer (i32 per row) of a certified plan. */
const failBuffer = (plan: ExecutionPlan): string => plan.buffers.find((b) => b.kind === 'temp' && b.dtype === 'i32' && b.shape.length === 1)!.id;

/** Run the certified plan; tokens must equal the interpreter's; returns the fail flags per row. */
function check(g: Graph, inputs: Record<string, HostTensor>, params: Map<string, HostTensor>, maxB = 64): number[] {
  const plan = compileProgram(certified(g), { maxDims: { B: maxB } });
  expect(plan.launches.map((l) => l.kernel.replace(/^cert_/, '').replace(/\d+$/, ''))).toContain('cert_reduce');
  const fail = failBuffer(plan);
  const got = runPlanSim(plan, inputs, params, { temps: [fail] });
  const want = interpret(g, inputs, params);
  expect([...got.tok.data]).toEqual([...want.tok.data]);
  return Array.from(got[`temp:${fail}`].data as Int32Array);
}

const set = (t: HostTensor, i: number, v: number): void => writer(t)(i, v);
const get = (t: HostTensor, i: number): number => reader(t)(i);

describe('certified argmax: plan and pass', () => {
  it('a certified head plans the one-term kernel, the certify reduce and the gated fallback after the GEMV variant', () => {
    const plan = compileProgram(certified(graph(300, 64, 'bf16')), { maxDims: { B: 64 } });
    expect(plan.launches.map((l) => l.kernel.replace(/^cert_/, '').replace(/\d+$/, ''))).toEqual([
      'linear_argmax', 'argmax_reduce', 'linear_tc_cert', 'cert_reduce', 'linear_tc_argmax', 'argmax_reduce',
    ]);
    expect(plan.derived).toEqual([{ name: 'w.certnorm', kind: 'max_row_norm', weight: 'w' }]);
    expect(plan.buffers.find((b) => b.name === 'w.certnorm')).toMatchObject({ kind: 'param', dtype: 'f32', shape: [1] });
    const fp8 = compileProgram(certified(graph(300, 64, 'fp8e4m3')), { maxDims: { B: 64 } });
    expect(fp8.derived).toEqual([{ name: 'w.certnorm', kind: 'max_row_norm', weight: 'w', scale: 'scale' }]);
    // the partials hold C + 1 pairs per block and row (8 columns per block at the narrowest: stride 38)
    expect(plan.buffers.filter((b) => b.kind === 'temp').map((b) => `${b.dtype}[${b.shape.join(',')}]`)).toEqual([`f32[B,${38 * (CERT_CANDIDATES + 1)}]`, `i32[B,${38 * (CERT_CANDIDATES + 1)}]`, 'i32[B]']);
  });

  it('leaves heads the tensor-core kernel cannot take (f32 weights, K not a multiple of 8) unmarked, and the interpreter as it was', () => {
    const f32 = certified(graph(100, 64, 'f32'));
    expect(f32.outputs[0].node.arg?.epilogue).toBeUndefined(); // f32 weights: not even fused
    const odd = certified(graph(100, 36, 'bf16'));
    expect(odd.outputs[0].node.arg?.epilogue).toBe('linear');
    const g = graph(100, 64, 'fp8e4m3');
    const c = certified(g);
    expect(c.outputs[0].node.arg?.epilogue).toBe('certified');
    const { inputs, params } = randomInputs(g, rng(1), new Map([['B', 6]]));
    expect(interpret(c, inputs, params)).toEqual(interpret(g, inputs, params));
    expect(lmHeadCertify(c)).toBe(c);
    expect(lmHeadArgmax(c)).toBe(c); // compileProgram's re-run keeps the certified mark
  });

  it('Ŵ = max_n |s_n|·‖w_n‖₂, rounded up to f32', () => {
    const w = hostTensor('bf16', [3, 2], new Uint16Array(6));
    [3, 4, 1, 1, 0.5, 0.5].forEach((v, i) => set(w, i, v));
    expect(maxRowNorm(w)).toBe(f32Up(5 * (1 + 2 ** -50)));
    expect(maxRowNorm(w)).toBeGreaterThanOrEqual(5);
    const s = hostTensor('f32', [3], Float32Array.of(0.1, -10, 2));
    expect(maxRowNorm(w, s)).toBeGreaterThanOrEqual(Math.SQRT2 * 10);
    expect(maxRowNorm(w, s)).toBeLessThan(Math.SQRT2 * 10 * (1 + 2 ** -22));
    expect(f32Up(0.1)).toBeGreaterThan(0.1);
    expect(f32Up(0.5)).toBe(0.5);
  });
});

describe('certified argmax on the PTX machine', () => {
  it.each([
    [300, 64, 5, 'bf16'], [300, 64, 9, 'bf16'], [137, 48, 33, 'bf16'], [300, 64, 64, 'bf16'],
    [300, 64, 5, 'fp8e4m3'], [101, 80, 16, 'fp8e4m3'], [300, 64, 40, 'fp8e4m3'],
  ] as const)('random rows: N=%i K=%i at batch %i, %s weights, certify and match the interpreter', (n, k, batch, wd) => {
    const g = graph(n, k, wd);
    const { inputs, params } = randomInputs(g, rng(n + k + batch), new Map([['B', batch]]));
    const fail = check(g, inputs, params);
    expect(fail.filter((f) => f === 0).length).toBeGreaterThan(batch / 2); // most random rows certify
  });

  it('a row whose one-term logits order two columns wrongly certifies and the exact recompute picks the right one', () => {
    const n = 300, k = 64, g = graph(n, k, 'bf16');
    const { inputs, params } = randomInputs(g, rng(41), new Map([['B', 6]]));
    const x = inputs.x, w = params.get('w')!;
    // row 0: small x but x[1] = 64·(1 + 2^-7 + 2^-9) and x[2] = 64·(1 + 2^-7), which round to the same bf16 (64.5)
    for (let j = 0; j < k; j++) set(x, j, get(x, j) / 30);
    set(x, 1, 64 * (1 + 2 ** -7 + 2 ** -9));
    set(x, 2, 64 * (1 + 2 ** -7));
    // columns 100 and 200: the same large row, 64.5 at k = 1, 2; 100 adds 0.5 at k = 2, 200 at k = 1: exactly,
    // z_200 − z_100 = 0.5·64·2^-9 = 1/16; with x rounded once they tie, and the tie goes to 100
    for (const c of [100, 200]) for (let j = 0; j < k; j++) set(w, c * k + j, j === 1 || j === 2 ? 64.5 : get(w, 77 * k + j));
    set(w, 100 * k + 2, 65);
    set(w, 200 * k + 1, 65);
    const want = interpret(g, inputs, params).tok.data;
    expect(want[0]).toBe(200);
    const fail = check(g, inputs, params);
    expect(fail[0]).toBe(0);
  });

  it('rows with more near-tied columns than candidates fail the certificate; the fallback gives the interpreter\'s token', () => {
    const n = 300, k = 64, g = graph(n, k, 'bf16');
    const { inputs, params } = randomInputs(g, rng(43), new Map([['B', 7]]));
    const x = inputs.x, w = params.get('w')!;
    // rows 1 and 4: x[3 .. 3 + T) = 1, 1 + 1/16, ... (bf16-exact); columns 10 .. 10 + T (T = C + 2 of them) a large row
    // aligned with x, column 10 + j bumped by 0.5 at k = 3 + j: distinct exact logits, 1/32 apart, inside the bound
    const T = CERT_CANDIDATES + 2;
    for (let j = 0; j < T; j++) set(x, k + 3 + j, 1 + j / 16);
    for (let j = 0; j < k; j++) set(x, 4 * k + j, get(x, k + j)); // row 4 = row 1
    for (let c = 10; c < 10 + T; c++) {
      for (let j = 0; j < k; j++) set(w, c * k + j, Math.sign(get(x, k + j)) * 3);
      set(w, c * k + 3 + (c - 10), get(w, c * k + 3 + (c - 10)) + 0.5);
    }
    const want = interpret(g, inputs, params).tok.data;
    expect([want[1], want[4]]).toEqual([9 + T, 9 + T]);
    const fail = check(g, inputs, params);
    expect([fail[1], fail[4]]).toEqual([1, 1]);
    expect(fail.filter((f, r) => r !== 1 && r !== 4 && f === 0).length).toBeGreaterThan(0);
  });

  it.each(['bf16', 'fp8e4m3'] as const)('every row failing (%s): the fallback computes all of them', (wd) => {
    const n = 200, k = 32, batch = 9, g = graph(n, k, wd);
    const { inputs, params } = randomInputs(g, rng(47), new Map([['B', batch]]));
    // columns 20..29 (more than the candidates): one row (the same weights), so every row has 10 columns tied under any rounding; for the
    // fp8 head their scales differ by 2^-12 relative, so the exact logits still have one order
    for (let c = 20; c < 30; c++) for (let j = 0; j < k; j++) set(params.get('w')!, c * k + j, j % 2 ? 2 : 1.5);
    for (let j = 0; j < batch * k; j++) set(inputs.x, j, Math.abs(get(inputs.x, j)) + 1);
    if (wd === 'fp8e4m3') for (let c = 0; c < n; c++) set(params.get('scale')!, c, c >= 20 && c < 30 ? 0.5 * (1 + ((c * 7) % 10) * 2 ** -12) : 0.1 * get(params.get('scale')!, c));
    const want = interpret(g, inputs, params).tok.data;
    // bf16: exact ties, the lowest index; fp8: the largest scale, at (7c) % 10 = 9, c = 27
    expect([...want]).toEqual(Array(batch).fill(wd === 'bf16' ? 20 : 27));
    expect(check(g, inputs, params)).toEqual(Array(batch).fill(1));
  });

  it('fp8 head: two columns tied but for their scales certify, and the recompute applies the scale before comparing', () => {
    const n = 300, k = 64, g = graph(n, k, 'fp8e4m3');
    const { inputs, params } = randomInputs(g, rng(53), new Map([['B', 5]]));
    const w = params.get('w')!, s = params.get('scale')!;
    for (let j = 0; j < k; j++) set(inputs.x, j, Math.abs(get(inputs.x, j)));
    for (const c of [30, 31]) for (let j = 0; j < k; j++) set(w, c * k + j, 8);
    set(s, 30, 1);
    set(s, 31, 1 + 2 ** -12);
    const want = interpret(g, inputs, params).tok.data;
    expect(want[0]).toBe(31);
    expect(check(g, inputs, params)[0]).toBe(0);
  });

  it('a NaN row fails and falls back (index 0, NaN largest)', () => {
    const g = graph(100, 64, 'bf16');
    const { inputs, params } = randomInputs(g, rng(59), new Map([['B', 6]]));
    set(inputs.x, 64 * 2 + 5, NaN);
    expect(interpret(g, inputs, params).tok.data[2]).toBe(0);
    expect(check(g, inputs, params)[2]).toBe(1);
  });

  it('a head with no more columns than candidates certifies every row', () => {
    const g = graph(CERT_CANDIDATES, 32, 'bf16');
    const { inputs, params } = randomInputs(g, rng(61), new Map([['B', 5]]));
    expect(check(g, inputs, params)).toEqual([0, 0, 0, 0, 0]);
  });

  it.each([[6, 'bf16'], [7, 'fp8e4m3']] as const)('a static batch of %i (%s)', (batch, wd) => {
    const g = graph(200, 48, wd, batch);
    const { inputs, params } = randomInputs(g, rng(67 + batch), new Map());
    const plan = compileProgram(certified(g), { maxDims: {} });
    expect(plan.launches.map((l) => l.kernel.replace(/^cert_/, '').replace(/\d+$/, ''))).toEqual(['linear_tc_cert', 'cert_reduce', 'linear_tc_argmax', 'argmax_reduce']);
    expect([...runPlanSim(plan, inputs, params).tok.data]).toEqual([...interpret(g, inputs, params).tok.data]);
  });

  it.each([['B', 4], [3, 64]] as const)('a batch that never reaches 5 rows (batch %s, maxDims.B %i) plans the ordinary fused argmax', (b, maxB) => {
    const g = graph(300, 64, 'bf16', b);
    const plan = compileProgram(certified(g), { maxDims: { B: maxB } });
    expect(plan.launches.map((l) => l.kernel.replace(/^cert_/, '').replace(/\d+$/, ''))).toEqual(['linear_argmax', 'argmax_reduce']);
    expect(plan.derived).toBeUndefined();
    const { inputs, params } = randomInputs(g, rng(79), new Map([['B', 3]]));
    expect([...runPlanSim(plan, inputs, params).tok.data]).toEqual([...interpret(g, inputs, params).tok.data]);
  });

  it.each([3, 4])('batch %i takes the GEMV (the ordinary fused argmax)', (batch) => {
    const g = graph(300, 64, 'fp8e4m3');
    const { inputs, params } = randomInputs(g, rng(71 + batch), new Map([['B', batch]]));
    const plan = compileProgram(certified(g), { maxDims: { B: 64 } });
    expect([...runPlanSim(plan, inputs, params).tok.data]).toEqual([...interpret(g, inputs, params).tok.data]);
  });
});

// the [8,1] and [8,2] block shapes (the 8B head takes [8,2]) and the e4m3 128-wide trip (the one-term tile always fits it)
describe('certified argmax through the tensor-core block shapes', () => {
  it.each([
    [33800, 16, 6, 'bf16'], [67600, 16, 5, 'bf16'], [67601, 16, 5, 'fp8e4m3'],
  ] as const)('N=%i K=%i at batch %i, %s weights', { timeout: 600_000 }, (n, k, batch, wd) => {
    expect(tcShape(n)).toEqual(n > 67584 ? { warps: 8, tiles: 2 } : { warps: 8, tiles: 1 });
    const g = graph(n, k, wd);
    const { inputs, params } = randomInputs(g, rng(n + batch), new Map([['B', batch]]));
    // row 0: the near tie of the fallback test (C + 2 columns spread across blocks, one order exactly)
    const w = params.get('w')!;
    for (let j = 0; j < k; j++) set(inputs.x, j, (1 + j / 16) * (1 + 0.9 * 2 ** -9)); // bf16 rounding leaves ~2^-9 relative
    const cols = [5, 300, 4000, 20000, n - 1, n - 300, 7000, 9000, 12000, 30000].slice(0, CERT_CANDIDATES + 2);
    cols.forEach((c, i) => { for (let j = 0; j < k; j++) set(w, c * k + j, j === i ? 4 : 3.5); });
    if (wd === 'fp8e4m3') for (const c of cols) set(params.get('scale')!, c, 8);
    const want = interpret(g, inputs, params).tok.data;
    expect(want[0]).toBe(cols[cols.length - 1]);
    const fail = check(g, inputs, params, 64);
    expect(fail[0]).toBe(1);
  });
});
