// The tensor-core linear (kernel-linear-tc.ts) on the PTX machine against the interpreter: batches that
// fill 1, 2, 5 and 8 batch tiles (5, 16, 33, 64 rows), a second weight pass (70 rows), K and N that are
// not multiples of the 64-wide k step or the 16-column tile, and the plan's gating (both variants
// planned, exactly one launched per batch).
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import { fp8e4m3ToF32 } from '../../../compiler/ir/numerics.ts';
import type { Dim } from '../../../compiler/ir/shape.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

function linearGraph(xShape: Dim[], n: number, k: number, wd: DType = 'bf16') {
  const x = Node.make('input', [], { name: 'x' }, 'f32', xShape);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
  return makeGraph('tc', [x], [{ name: 'y', node: Node.make('linear', [x, w]) }]);
}

function check(n: number, k: number, batch: number, maxB: number, wd: DType = 'bf16'): number[] {
  const g = linearGraph(['B', k], n, k, wd);
  const { inputs, params } = randomInputs(g, rng(n * 7 + k + batch), new Map([['B', batch]]));
  const want = interpret(g, inputs, params);
  const plan = compileProgram(g, { maxDims: { B: maxB } });
  expect(Object.keys(plan.modules).some((m) => m.includes('linear_tc'))).toBe(true);
  return mismatches(runPlanSim(plan, inputs, params).y, want.y, 1e-4);
}

describe('tensor-core linear', () => {
  it.each([
    [100, 72, 5, 64], [100, 72, 16, 64], [37, 136, 33, 64], [100, 72, 64, 64], [24, 8, 70, 80], [130, 64, 9, 16],
  ] as const)('N=%i K=%i at batch %i (maxDims.B %i)', (n, k, batch, maxB) => {
    expect(check(n, k, batch, maxB)).toEqual([]);
  });

  // e4m3 weights: 16 k's per 16-byte load, so K must be a multiple of 16 (80, 144: not of the 64- or 128-wide trip)
  it.each([
    [100, 80, 5, 64], [37, 144, 16, 64], [130, 64, 33, 64], [61, 208, 64, 64], [24, 16, 70, 80],
    // maxDims.B ≤ 32: 128-wide k trips (two chunks), K = 80, 144, 208 end inside a trip
    [100, 80, 5, 32], [37, 144, 16, 16], [130, 256, 32, 32], [61, 208, 33, 32], [24, 16, 9, 8],
  ] as const)('fp8e4m3 weights: N=%i K=%i at batch %i (maxDims.B %i)', (n, k, batch, maxB) => {
    expect(check(n, k, batch, maxB, 'fp8e4m3')).toEqual([]);
  });

  it('widens all 256 e4m3 codes exactly (one-hot rows of x read single weights back)', () => {
    // w[n, k] = code 16n + k for rows 0..15, except the NaN codes 0x7F, 0xFF, which get rows 16, 17 of
    // their own (a NaN weight makes its whole column NaN); x row m is e_m, so y[m, n] = w[n, m]
    const N = 18, K = 16, M = 16;
    const g = linearGraph(['B', K], N, K, 'fp8e4m3');
    const { inputs, params } = randomInputs(g, rng(1), new Map([['B', M]]));
    const w = params.get('w')!.data as Uint8Array, x = inputs.x.data as Float32Array;
    for (let c = 0; c < 256; c++) w[c] = (c & 0x7f) === 0x7f ? 0 : c;
    w.fill(0, 256);
    w[16 * K] = 0x7f;
    w[17 * K + 1] = 0xff;
    x.fill(0);
    for (let m = 0; m < M; m++) x[m * K + m] = 1;
    const plan = compileProgram(g, { maxDims: { B: M } });
    expect(Object.keys(plan.modules).some((m) => m.includes('linear_tc'))).toBe(true);
    const got = runPlanSim(plan, inputs, params).y.data as Float32Array;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      const want = n < 16 ? fp8e4m3ToF32(w[n * K + m]) : NaN;
      if (Number.isNaN(want)) expect(Number.isNaN(got[m * N + n])).toBe(true);
      else expect(got[m * N + n]).toBe(want === 0 ? got[m * N + n] : want); // ±0 either way
    }
  });

  it('x of rank 3 with a symbolic batch', () => {
    const g = linearGraph(['B', 3, 24], 40, 24);
    const { inputs, params } = randomInputs(g, rng(5), new Map([['B', 4]]));
    const got = runPlanSim(compileProgram(g, { maxDims: { B: 8 } }), inputs, params);
    expect(mismatches(got.y, interpret(g, inputs, params).y, 1e-4)).toEqual([]);
  });

  it('plans the GEMV for ≤ 4 rows and the tensor-core kernel above; one launches per batch', () => {
    const plan = compileProgram(linearGraph(['B', 64], 100, 64), { maxDims: { B: 64 } });
    expect(plan.launches.map((l) => l.kernel)).toEqual(['tc_linear0', 'tc_linear_tc1']);
    for (const [B, want] of [[1, 'tc_linear0'], [4, 'tc_linear0'], [5, 'tc_linear_tc1'], [64, 'tc_linear_tc1']] as const) {
      const live = plan.launches.filter((l) => evalGrid(l.grid[0], new Map([['B', B]])) > 0).map((l) => l.kernel);
      expect(live).toEqual([want]);
    }
    // a static batch plans only its kernel; f32 weights stay on the GEMV
    expect(compileProgram(linearGraph([8, 64], 100, 64), { maxDims: {} }).launches.map((l) => l.kernel)).toEqual(['tc_linear_tc0']);
  });
});
