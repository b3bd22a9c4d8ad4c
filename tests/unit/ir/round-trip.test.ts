// parse(print(g)) is g — the same interned nodes — for random graphs over every op and for the real speculators.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { graphNodes, sameGraph } from '../../../compiler/ir/graph.ts';
import { OPS } from '../../../compiler/ir/ops.ts';
import { parseGraph, parseModule } from '../../../compiler/ir/parse/index.ts';
import { printGraph } from '../../../compiler/ir/print.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { randomGraph } from '../../support/random-graph.ts';

function expectRoundTrip(g: Graph): void {
  const text = printGraph(g);
  const back = parseGraph(text);
  if (!sameGraph(back, g)) expect.fail(`round trip changed the graph:\n${text}\n---- reparsed ----\n${printGraph(back)}`);
  expect(printGraph(back)).toBe(text);
}

describe('print → parse round trip', () => {
  it('holds for 1,500 random graphs covering every op', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
      const g = randomGraph(seed, 14, { collectives: true });
      for (const n of graphNodes(g)) seen.add(n.op);
      expectRoundTrip(g);
    }), { numRuns: 1500, seed: 20240817 });
    expect(OPS.filter((op) => !seen.has(op))).toEqual([]);
  });

  it('holds for several random graphs in one module', () => {
    const gs = [1, 2, 3].map((s) => randomGraph(s));
    const back = parseModule(gs.map(printGraph).join('// -----\n'));
    expect(back).toHaveLength(3);
    back.forEach((g, i) => expect(sameGraph(g, gs[i])).toBe(true));
  });

  const lstm = (o: Partial<Parameters<typeof lstmSpeculator>[0]>) =>
    lstmSpeculator({ hiddenSize: 32, width: 16, vocabSize: 64, nPredict: 3, scaleInput: true, ...o }).graph;
  it.each([
    ['lstm, scale_input', lstm({})],
    ['lstm, 1 step, f32 weights', lstm({ nPredict: 1, scaleInput: false, weightDtype: () => 'f32' })],
    ['lstm, fp8 head', lstm({ nPredict: 4, weightDtype: (n) => (n.startsWith('head') ? 'fp8e4m3' : 'bf16') })],
    ['mlp, tied', mlpSpeculator({ hiddenSize: 32, width: 16, vocabSize: 64, nPredict: 3, scaleInput: true, tieWeights: true }).graph],
    ['mlp, untied', mlpSpeculator({ hiddenSize: 24, width: 16, vocabSize: 50, nPredict: 2, scaleInput: false, tieWeights: false }).graph],
  ])('holds for the %s speculator', (_, g) => expectRoundTrip(g));
});
