// The contraction kernels on the PTX machine at the shapes their code paths switch on: one column per
// warp (N < 8448; 2 and 4 columns, N ≥ 8448 and ≥ 16896, are in sim-variants.test.ts), 16-byte vector
// loads or scalars (K a multiple of the vector width or not), every weight dtype, batch 1 (one 1-row pass), 4 (one chunk), 6 (a chunk and two
// tail rows), a static batch, and x stored narrower than f32.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { Dim } from '../../../compiler/ir/shape.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

function check(op: 'linear' | 'matmul', xd: DType, wd: DType, xShape: Dim[], wShape: number[], batch: number): number[] {
  const x = Node.make('input', [], { name: 'x' }, xd, xShape);
  const w = Node.make('param', [], { name: 'w' }, wd, wShape);
  const g = makeGraph('c', [x], [{ name: 'y', node: Node.make(op, [x, w]) }]);
  const { inputs, params } = randomInputs(g, rng(wShape[0] * 31 + batch), new Map([['B', batch]]));
  const want = interpret(g, inputs, params);
  const got = runPlanSim(compileProgram(g, { maxDims: { B: 8 } }), inputs, params);
  return mismatches(got.y, want.y, 1e-4);
}

describe('linear', () => {
  it.each([
    ['bf16', 'f32', 4300, 40, 6], ['bf16', 'f32', 4300, 40, 1], ['fp8e4m3', 'f32', 2200, 48, 4],
    ['f32', 'bf16', 4224, 20, 5], ['f16', 'f32', 2112, 7, 1], ['bf16', 'bf16', 300, 64, 6], ['fp8e4m3', 'fp8e4m3', 33, 16, 3],
  ] as const)('w %s, x %s, N=%i K=%i at batch %i', (wd, xd, n, k, batch) => {
    expect(check('linear', xd, wd, ['B', k], [n, k], batch)).toEqual([]);
  });

  it('with a static batch of 3 and x of rank 3', () => {
    expect(check('linear', 'f32', 'bf16', [3, 2, 24], [40, 24], 1)).toEqual([]);
  });
});

describe('matmul', () => {
  it.each([['bf16', 'f32', 24, 40], ['f32', 'f16', 7, 3]] as const)('b %s, a %s, K=%i N=%i', (wd, xd, k, n) => {
    expect(check('matmul', xd, wd, ['B', 2, k], [k, n], 3)).toEqual([]);
  });
});
