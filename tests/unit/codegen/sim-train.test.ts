// Training kernels on the PTX machine against the interpreter: one_hot (inline), scatter_add (its own kernel,
// kernel-scatter-add.ts), the cross-entropy loss and its gradient, whole teacher-forced LSTM and MLP training
// steps (loss and every weight gradient) at tiny shapes, unchunked and with the cross entropy in vocabulary
// chunks, and a chunked LM head at 512 rows on the tiled GEMM.
import { describe, expect, it } from 'vitest';
import { trainingForm } from '../../../compiler/autodiff/training-form.ts';
import { compileProgram } from '../../../compiler/compile.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { rng } from '../../support/random-graph.ts';
import { ceHeadGraph } from '../../support/ce-head.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

describe('training ops on the PTX machine', () => {
  it('one_hot and scatter_add (i32 and i64 ids, symbolic rows)', () => {
    for (const idt of ['i32', 'i64'] as const) {
      const ids = Node.make('input', [], { name: 'ids' }, idt, ['B']);
      const u = Node.make('input', [], { name: 'u' }, 'f32', ['B', 5]);
      const g = makeGraph('t', [ids, u], [
        { name: 'oh', node: Node.make('one_hot', [ids], { depth: 7 }) },
        { name: 'sa', node: Node.make('scatter_add', [u, ids], { rows: 7 }) },
      ]);
      const n = 6;
      const idv = [3, 0, 6, 3, 1, 3];
      const inputs = {
        ids: idt === 'i32' ? hostTensor('i32', [n], Int32Array.from(idv)) : hostTensor('i64', [n], BigInt64Array.from(idv.map(BigInt))),
        u: hostTensor('f32', [n, 5], Float32Array.from({ length: n * 5 }, (_, i) => Math.sin(i))),
      };
      const want = interpret(g, inputs);
      const got = runPlanSim(compileProgram(g, { maxDims: { B: 8 } }), inputs, new Map());
      expect(mismatches(got.oh, want.oh)).toEqual([]);
      expect(mismatches(got.sa, want.sa, 1e-5)).toEqual([]);
    }
  });

  it.each([[50, 'i32'], [600, 'i32'], [300, 'i64']] as const)('scatter_add kernel: %i ids (%s; chunks of 256), two column blocks, rows not a multiple of its 32, repeated ids, summed in ascending order', (M, idType) => {
    const D = 300, rows = 70;
    const ids = Node.make('input', [], { name: 'ids' }, idType, [M]);
    const u = Node.make('input', [], { name: 'u' }, 'f32', [M, D]);
    const g = makeGraph('t', [ids, u], [{ name: 'sa', node: Node.make('scatter_add', [u, ids], { rows }) }]);
    const r = rng(3);
    const idv32 = Int32Array.from({ length: M }, (_, i) => (i % 7 === 0 ? 69 : r.int(0, rows - 1)));
    const inputs = {
      ids: idType === 'i32' ? hostTensor('i32', [M], idv32) : hostTensor('i64', [M], BigInt64Array.from(idv32, (x) => BigInt(x))),
      u: hostTensor('f32', [M, D], Float32Array.from({ length: M * D }, () => r.next() * 2 - 1)),
    };
    const plan = compileProgram(g, { maxDims: {} });
    expect(plan.kernels.map((k) => k.name)).toEqual(['t_scatter_add0']);
    const got = runPlanSim(plan, inputs, new Map());
    // the same f32 sums in ascending m as a host loop
    const want = new Float32Array(rows * D);
    const idv = idv32, uv = inputs.u.data as Float32Array;
    for (let m = 0; m < M; m++) for (let d = 0; d < D; d++) want[idv[m] * D + d] = Math.fround(want[idv[m] * D + d] + uv[m * D + d]);
    expect(Buffer.from((got.sa.data as Float32Array).buffer).equals(Buffer.from(want.buffer))).toBe(true);
  });

  it.each([
    ['LSTM', () => lstmSpeculator({ hiddenSize: 8, width: 4, vocabSize: 33, nPredict: 3, scaleInput: true, weightDtype: () => 'f32' }).graph],
    ['MLP', () => mlpSpeculator({ hiddenSize: 8, width: 4, vocabSize: 33, nPredict: 2, scaleInput: true, tieWeights: true, weightDtype: () => 'f32' }).graph],
  ])('a whole %s training step: loss and every weight gradient', (_n, build) => {
    for (const ceChunk of [undefined, 8]) {
      // 8: the cross entropy in 5 vocabulary chunks (the last one column wide), linearCrossEntropy
      const tf = trainingForm(build(), { rows: 6, ...(ceChunk ? { ceChunk } : {}) });
      expect(tf.ceChunks).toBe(ceChunk ? 5 : 1);
      stepMatches(tf);
    }
  }, 120_000);

  it('a chunked LM head at 512 rows on the tiled GEMM: W read in place by chunk, dW written in place (split along K), a partial last chunk', () => {
    const { graph, chunks } = ceHeadGraph(512, 32, 208, 128);
    expect(chunks).toBe(2);
    const plan = compileProgram(graph, { maxDims: {} });
    // dw is written only by the chunks' GEMMs (in place, no concat copy); the logits GEMMs read w in place
    const touching = (id: string) => plan.launches.filter((l) => l.args.some((a) => 'buffer' in a && a.buffer === id)).map((l) => l.kernel);
    expect(touching('output:dw')).toHaveLength(2);
    expect(touching('output:dw').every((k) => k.includes('gemm_reduce'))).toBe(true);
    expect(touching('param:w').length).toBe(6);
    expect(touching('param:w').every((k) => k.includes('gemm'))).toBe(true);
    const r = rng(21);
    const { inputs, params } = randomInputs(graph, r, new Map());
    inputs.y = hostTensor('i32', [512], Int32Array.from({ length: 512 }, (_, i) => (i % 4 === 0 ? 128 + r.int(0, 79) : r.int(0, 207))));
    const want = interpret(graph, inputs, params);
    const got = runPlanSim(plan, inputs, params);
    expect(mismatches(got.loss, want.loss, 1e-4)).toEqual([]);
    expect(mismatches(got.dx, want.dx, 1e-5)).toEqual([]);
    expect(mismatches(got.dw, want.dw, 2e-5)).toEqual([]);
  }, 300_000);
});

/** A training form at 6 rows on the PTX machine: loss and every weight gradient against the interpreter. */
function stepMatches(tf: ReturnType<typeof trainingForm>): void {
  const { inputs, params } = randomInputs(tf.graph, rng(11), new Map());
  const r = rng(5);
  inputs.tokens = hostTensor('i32', [6], Int32Array.from({ length: 6 }, () => r.int(0, 32)));
  inputs.labels = hostTensor('i32', [6, tf.nPredict], Int32Array.from({ length: 6 * tf.nPredict }, () => r.int(0, 32)));
  const want = interpret(tf.graph, inputs, params);
  const got = runPlanSim(compileProgram(tf.graph, { maxDims: {} }), inputs, params);
  expect(mismatches(got.loss, want.loss, 1e-4)).toEqual([]);
  for (const p of tf.params) expect(mismatches(got[p.output], want[p.output], 2e-4), p.name).toEqual([]);
}
