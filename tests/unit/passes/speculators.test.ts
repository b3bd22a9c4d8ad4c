// The pipeline on the real speculators: the interpreter gives bit-identical results before and after,
// and the LSTM's tiled embedding concat is gone.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { graphNodes, graphParams, makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { resolveShape } from '../../../compiler/ir/shape.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor, numel, writer } from '../../../compiler/ir/tensor-data.ts';
import { verifyGraph } from '../../../compiler/ir/verify.ts';
import { runPipeline } from '../../../compiler/pipeline.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import type { Rng } from '../../support/random-graph.ts';
import { rng } from '../../support/random-graph.ts';

function randomTensor(r: Rng, dtype: HostTensor['dtype'], shape: number[], scale = 1): HostTensor {
  const t = hostTensor(dtype, shape);
  const w = writer(t);
  for (let i = 0; i < numel(shape); i++) w(i, (r.next() * 2 - 1) * scale);
  return t;
}

/** The graph with every sigmoid, gelu and linear also exposed as an output, so values are compared, not just tokens. */
function withIntermediates(g: Graph): Graph {
  const inner = graphNodes(g).filter((n) => n.op === 'sigmoid' || n.op === 'gelu' || n.op === 'linear');
  return makeGraph(g.name, g.inputs, [...g.outputs, ...inner.map((node, i) => ({ name: `t${i}`, node }))]);
}

function expectSameResults(before: Graph, after: Graph, seed: number, batch: number, vocab: number, hidden: number): void {
  const r = rng(seed);
  const params = new Map(graphParams(before).map((p) => [p.argOf<string>('name'), randomTensor(r, p.dtype, resolveShape(p.shape, new Map()), 0.5)]));
  const tokens = hostTensor('i32', [batch], Int32Array.from({ length: batch }, () => r.int(0, vocab - 1)));
  const inputs = { hidden: randomTensor(r, 'f32', [batch, hidden], 2), tokens };
  const want = interpret(before, inputs, params), got = interpret(after, inputs, params);
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const k of Object.keys(want)) expect(got[k], k).toEqual(want[k]);
}

const LSTM = { hiddenSize: 24, width: 8, vocabSize: 40, nPredict: 3 };

describe('canonicalize on the speculators', () => {
  it.each([true, false])('LSTM (scale_input=%s): outputs and intermediates unchanged, tiled embedding gone', (scaleInput) => {
    const g = withIntermediates(lstmSpeculator({ ...LSTM, scaleInput }).graph);
    const out = runPipeline(g, 'canonicalize', { verify: true });
    for (const seed of [1, 2, 3]) expectSameResults(g, out, seed, 1 + seed, LSTM.vocabSize, LSTM.hiddenSize);
    const concats = graphNodes(out).filter((n) => n.op === 'concat');
    expect(concats.map((c) => c.shape)).toEqual([['B', 3]]); // only the stacked draft tokens remain
    // more (narrower) nodes, but fewer elements materialised per row: no [B,4D] concat, mul and add
    const written = (x: Graph): number => graphNodes(x).filter((n) => n.src.length > 0).reduce((a, n) => a + numel(resolveShape(n.shape, new Map([['B', 1]]))), 0);
    expect(written(out)).toBeLessThan(written(g));
    expect(verifyGraph(out, 'canonical')).toEqual([]);
  });

  it('LSTM through simplify then fold-concat-slice, dumping after each', () => {
    const g = lstmSpeculator({ ...LSTM, scaleInput: true }).graph;
    const dumps: string[] = [];
    const out = runPipeline(g, 'simplify,fold-concat-slice', { verify: true, dumpAfter: 'all', onDump: (p) => dumps.push(p) });
    expect(dumps).toEqual(['simplify', 'fold-concat-slice']);
    expectSameResults(g, out, 7, 4, LSTM.vocabSize, LSTM.hiddenSize);
  });

  it.each([true, false])('MLP (tie_weights=%s): unchanged results', (tieWeights) => {
    const g = withIntermediates(mlpSpeculator({ hiddenSize: 16, width: 8, vocabSize: 32, nPredict: 3, scaleInput: true, tieWeights }).graph);
    expectSameResults(g, runPipeline(g, 'canonicalize', { verify: true }), 11, 3, 32, 16);
  });
});
