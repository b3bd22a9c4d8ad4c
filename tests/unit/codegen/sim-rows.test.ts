// Row kernels over long rows on the PTX machine: 4 elements per thread per trip with a masked tail
// (L = 5000 over 512 threads, L = 37 over 64), stored elements reloaded after a barrier, and every
// reduction and row op, against the interpreter.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

describe.each([5000, 37, 300])('rows of %i', (len) => {
  it('sum, max, argmax, top-k, softmax and both norms of a shared elementwise row match the interpreter', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', len]);
    const t = Node.make('tanh', [Node.make('mul', [x, x])]); // shared and not cheap: stored, then reloaded
    const y = Node.make('sub', [t, x]);
    const outs = {
      sum: Node.make('sum', [y], { axis: 1 }),
      max: Node.make('reduce_max', [y], { axis: 1 }),
      arg: Node.make('argmax', [y], { axis: 1 }),
      topv: Node.make('topk_values', [y], { k: 3 }),
      topi: Node.make('topk_indices', [y], { k: 3 }),
      soft: Node.make('softmax', [y]),
      rms: Node.make('exp', [Node.make('rms_norm', [t], { eps: 1e-6 })]),
      ln: Node.make('layer_norm', [Node.make('add', [t, y])], { eps: 1e-5 }),
    };
    const g = makeGraph('rows', [x], Object.entries(outs).map(([name, node]) => ({ name, node })));
    const { inputs, params } = randomInputs(g, rng(len), new Map([['B', 3]]));
    const want = interpret(g, inputs, params);
    const plan = compileProgram(g, { maxDims: { B: 4 } });
    const got = runPlanSim(plan, inputs, params);
    for (const name of Object.keys(outs)) expect(mismatches(got[name], want[name], 1e-5), name).toEqual([]);
  });
});
