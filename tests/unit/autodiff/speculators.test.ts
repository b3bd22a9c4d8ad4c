// The teacher-forced training form of whole drafters — both Arctic speculators and the GRU example,
// with no drafter-specific code — against finite differences of its loss in the f64 interpreter.
import { describe, expect, it } from 'vitest';
import { draftHeads, trainingForm } from '../../../compiler/autodiff/training-form.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { gruDrafter } from '../../../examples/drafters/gru-drafter.ts';
import { checkGradients, f64Tensor, rng } from './support.ts';

const H = 6, D = 4, V = 9, n = 3, M = 5;
const shape = { hiddenSize: H, width: D, vocabSize: V, nPredict: n, scaleInput: true };

function check(drafter: Graph, seed: number): number {
  const tf = trainingForm(drafter, { rows: M });
  const r = rng(seed);
  const u = (k: number, s = 1) => Array.from({ length: k }, () => (2 * r() - 1) * s);
  const params = new Map<string, HostTensor>();
  for (const p of tf.params) params.set(p.name, f64Tensor(p.shape, u(p.shape.reduce((a, b) => a * b, 1), 0.8)));
  const inputs = {
    hidden: f64Tensor([M, H], u(M * H, 2)),
    tokens: hostTensor('i32', [M], Int32Array.from({ length: M }, () => Math.floor(r() * V))),
    labels: hostTensor('i32', [M, n], Int32Array.from({ length: M * n }, () => Math.floor(r() * V))),
  };
  return checkGradients({ graph: tf.graph, inputs, params, wrt: tf.params.map((p) => ({ kind: 'param', name: p.name, output: p.output })) }, { samples: 10, tol: 1e-6 });
}

describe('training form: gradients of whole drafters match finite differences', () => {
  it('Arctic LSTM (sum_lstm, tied, scale_input)', () => {
    const g = lstmSpeculator(shape).graph;
    expect(draftHeads(g)).toHaveLength(n);
    expect(check(g, 1)).toBeGreaterThan(40);
  });
  it('Arctic MLP, tied and untied', () => {
    expect(check(mlpSpeculator({ ...shape, tieWeights: true }).graph, 2)).toBeGreaterThan(40);
    expect(check(mlpSpeculator({ ...shape, scaleInput: false, tieWeights: false }).graph, 3)).toBeGreaterThan(40);
  });
  it('the GRU example drafter (a user DSL file)', () => {
    const g = gruDrafter({ hiddenSize: H, width: D, vocabSize: V, nPredict: n, scaleInput: false, tieWeights: false, weightDtype: () => 'bf16', config: {} }).graph;
    expect(check(g, 4)).toBeGreaterThan(40);
  });
  it('a drafter whose draft is not argmax heads is refused by name', () => {
    const g = lstmSpeculator(shape).graph;
    const bad: Graph = { ...g, outputs: [{ name: 'draft', node: g.inputs[1] }] };
    expect(() => trainingForm(bad, { rows: 2 })).toThrow('draft column 0 is input');
  });
});
