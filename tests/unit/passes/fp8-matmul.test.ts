// fp8-matmul on the real speculators: which weights are heads, that the rewrite verifies and is a
// fixpoint, and that the scale multiply costs no launch (the scheduler fuses it, with the argmax, into the
// head linear's epilogue).
import { describe, expect, it } from 'vitest';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { compileProgram } from '../../../compiler/compile.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import type { Node } from '../../../compiler/ir/node.ts';
import { graphNodes, graphParams, sameGraph } from '../../../compiler/ir/graph.ts';
import { rewriteGraph } from '../../../compiler/ir/rewrite.ts';
import { verifyGraph } from '../../../compiler/ir/verify.ts';
import { fp8Matmul, fp8MatmulDerived, fp8Params, headWeights } from '../../../compiler/passes/fp8-matmul.ts';
import { runPipeline } from '../../../compiler/pipeline.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';

const shape = { hiddenSize: 64, width: 48, vocabSize: 40, nPredict: 3, scaleInput: true };
// V = 40 is smaller than the LSTM's 4D = 192 gate rows: heads are found by what consumes them, not by size
const SPECULATORS: [string, Graph, string[]][] = [
  ['lstm', lstmSpeculator(shape).graph, ['head.0.weight']],
  ['mlp tied', mlpSpeculator({ ...shape, tieWeights: true }).graph, ['head.0.weight']],
  ['mlp untied', mlpSpeculator({ ...shape, tieWeights: false }).graph, ['head.0.weight', 'head.1.weight', 'head.2.weight']],
];

const names = (ns: Iterable<Node>): string[] => [...ns].map((n) => n.argOf<string>('name')).sort();

describe.each(SPECULATORS)('fp8-matmul on the %s speculator', (_, g, heads) => {
  it('finds exactly the LM heads', () => {
    expect(names(headWeights(g))).toEqual(heads);
  });

  it('reads every head in fp8 with a scale, verifies, and is a fixpoint', () => {
    const q = fp8Matmul(g, { weights: 'head', minRows: 0 });
    verifyGraph(q, 'graph');
    expect([...fp8Params(q).keys()].sort()).toEqual(heads);
    // what the pass returns it derived: the same weights, each with its two params
    expect(fp8MatmulDerived(g, { weights: 'head', minRows: 0 }).derived.map((d) => [d.from, d.fp8, d.scale]).sort())
      .toEqual(heads.map((h) => [h, `${h}.fp8`, `${h}.scale`]));
    const params = names(graphParams(q));
    for (const h of heads) expect(params).toEqual(expect.arrayContaining([`${h}.fp8`, `${h}.scale`]));
    for (const h of heads) expect(params).not.toContain(h);
    expect(sameGraph(fp8Matmul(q, { weights: 'head', minRows: 0 }), q)).toBe(true);
    // weights=all leaves no bf16 weight under a linear
    const all = fp8Matmul(g, { weights: 'all', minRows: 0 });
    expect(graphNodes(all).filter((n) => n.op === 'linear').every((n) => n.src[1].dtype === 'fp8e4m3')).toBe(true);
  });

  it('adds no launch: the scale multiply is fused into the head linear with the argmax', () => {
    const q = runPipeline(g, 'canonicalize,fp8-matmul', { verify: true });
    // the same fp8 graph without the scale multiply isolates its cost (the kernel chosen for an fp8
    // weight may differ from a bf16 one's, so comparing with the bf16 plan would measure that too)
    const unscaled = rewriteGraph(q, [{ op: 'mul', match: (n) => (n.src[0].op === 'linear' && n.src[1].op === 'broadcast' ? n.src[0] : undefined) }], { name: 'drop-scale' });
    const a = compileProgram(unscaled, { maxDims: { B: 32 } });
    const b = compileProgram(q, { maxDims: { B: 32 } });
    expect(b.launches.length).toBe(a.launches.length);
    expect(b.kernels.length).toBe(a.kernels.length);
    expect(b.arenaBytes).toBe(a.arenaBytes); // no temporary holds the scaled logits on their own
    // each scale is read only by the head linears with the fused argmax epilogue (a GEMV for ≤ 4 rows and
    // a tensor-core variant above, size-gated: one of them runs per batch), which scale each column's sum
    // before comparing; the logits never reach memory
    const scales = b.buffers.filter((x) => x.name?.endsWith('.scale')).map((x) => x.id);
    expect(scales.length).toBe(heads.length);
    const readers = b.launches.filter((l) => l.args.some((x) => 'buffer' in x && scales.includes(x.buffer)));
    expect(readers.map((l) => l.kernel.replace(/^.*?_(linear(_tc)?_argmax)\d+$/, '$1')).sort())
      .toEqual([...Array(shape.nPredict).fill('linear_argmax'), ...Array(shape.nPredict).fill('linear_tc_argmax')]);
    for (const B of [1, 32]) {
      const live = readers.filter((l) => evalGrid(l.grid[0], new Map([['B', B]])) > 0);
      expect(live.length).toBe(shape.nPredict);
    }
  });
});

describe('fp8-matmul options', () => {
  it('rejects unknown modes and keys through the pipeline', () => {
    const g = SPECULATORS[0][1];
    expect(() => runPipeline(g, 'fp8-matmul{weights=some}')).toThrow(/options of pass fp8-matmul/);
    expect(() => runPipeline(g, 'fp8-matmul{scale=tensor}')).toThrow(/options of pass fp8-matmul/);
  });
});
