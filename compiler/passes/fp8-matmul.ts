// fp8-matmul: weight-only FP8 for linears. linear(x, W) with W a bf16/f16/f32 param [N,K] becomes
//   mul(linear(x, param "W.fp8" : fp8e4m3[N,K]), broadcast(param "W.scale" : f32[N]))
// so the memory-bound GEMV streams half the bytes of a bf16 weight. The scale is per output row (more
// accurate than ArcticInference's one per-tensor scale) and multiplies the f32 result, so activations stay
// f32 and need no per-token quantization. No new op and no new kernel: the scheduler inlines the mul into
// the consumer of the logits (the argmax row kernel reads logits × scale). runtime/quantize-fp8.ts makes
// the two new params from W (W.fp8 = e4m3(W / scale), scale = amax_row / 448).
import { z } from 'zod';
import type { Graph } from '../ir/graph.ts';
import { graphNodes, graphParams, users } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import type { Op } from '../ir/ops.ts';
import { ELEMENTWISE } from '../ir/ops.ts';
import type { Rule } from '../ir/rewrite.ts';
import { rewriteGraph } from '../ir/rewrite.ts';
import { definePass } from './pass.ts';

export const FP8_SUFFIX = '.fp8';
export const SCALE_SUFFIX = '.scale';

/** Ops that turn logits over the last axis into a choice or a distribution over the vocabulary. */
const VOCAB_CONSUMERS: ReadonlySet<Op> = new Set<Op>(['argmax', 'topk_values', 'topk_indices', 'softmax']);

const QUANTIZABLE = new Set(['bf16', 'f16', 'f32']);

function overLastAxis(n: Node, rank: number): boolean {
  return n.op !== 'argmax' || n.argOf<number>('axis') === rank - 1;
}

/**
 * The LM-head weights of a graph: params W such that some linear(x, W) reaches an argmax, top-k or
 * softmax over its output axis, through elementwise ops and slices only. That is what makes a weight a head (its rows
 * are the vocabulary), independent of names and of whether V is the largest dim.
 */
export function headWeights(g: Graph): Set<Node> {
  const use = users(g);
  const heads = new Set<Node>();
  // through elementwise ops and slices (a tensor-parallel rank slices its shard's padding rows off first)
  const reaches = (n: Node, rank: number, depth: number): boolean =>
    (use.get(n) ?? []).some((u) => (VOCAB_CONSUMERS.has(u.op) && overLastAxis(u, rank))
      || (depth > 0 && (ELEMENTWISE.has(u.op) || u.op === 'slice') && u.shape.length === rank && reaches(u, rank, depth - 1)));
  for (const n of graphNodes(g)) {
    if (n.op === 'linear' && n.src[1].op === 'param' && reaches(n, n.shape.length, 8)) heads.add(n.src[1]);
  }
  return heads;
}

/** The quantized form of one linear: weight and scale params named after the original weight. */
export function fp8Linear(n: Node): Node {
  const [x, w] = n.src;
  const name = w.argOf<string>('name');
  const q = Node.make('param', [], { name: name + FP8_SUFFIX }, 'fp8e4m3', w.shape);
  const scale = Node.make('param', [], { name: name + SCALE_SUFFIX }, 'f32', [w.shape[0]]);
  return Node.make('mul', [Node.make('linear', [x, q]), Node.make('broadcast', [scale], { shape: [...n.shape] })]);
}

export const Fp8MatmulOptions = z.strictObject({
  /** 'head': only LM-head weights (see headWeights); 'all': every linear with a param weight */
  weights: z.enum(['head', 'all']).default('head'),
  /** leave weights with fewer output rows than this alone (small projections gain little) */
  minRows: z.number().int().nonnegative().default(0),
});
export type Fp8MatmulOptions = z.output<typeof Fp8MatmulOptions>;

/** What the pass derived for one weight W it rewrote: the two params that replace it, made from W. */
export interface Fp8Derivation {
  /** the original weight's name (the checkpoint tensor to quantize) */
  readonly from: string;
  /** the e4m3 param: W / scale rounded (runtime/quantize-fp8.ts) */
  readonly fp8: string;
  /** the f32 [N] param: row amax / 448 */
  readonly scale: string;
}

/** The rule; `selected` decides per weight param (head weights are found on the input graph); `derived` records each rewrite. */
function fp8Rule(selected: (w: Node) => boolean, minRows: number, derived: Map<string, Fp8Derivation>): Rule {
  return {
    name: 'linear-to-fp8', op: 'linear',
    match: (n) => {
      const w = n.src[1];
      if (w.op !== 'param' || !QUANTIZABLE.has(w.dtype) || (w.shape[0] as number) < minRows || !selected(w)) return undefined;
      const out = fp8Linear(n);
      const from = w.argOf<string>('name');
      derived.set(from, { from, fp8: from + FP8_SUFFIX, scale: from + SCALE_SUFFIX });
      return out;
    },
  };
}

/**
 * fp8Matmul, also returning what it derived: for each rewritten weight, the params made from it (only
 * those the output reads). The quantizer binds weights from this, not by parsing param names, so a
 * param that was fp8 before the pass (a pre-quantized checkpoint's "x.fp8") is left to the checkpoint.
 */
export function fp8MatmulDerived(g: Graph, o: Fp8MatmulOptions): { graph: Graph; derived: Fp8Derivation[] } {
  // head weights are params (leaves), which the rewrite never changes, so the set stays valid while
  // linears above them are rebuilt
  const heads = o.weights === 'head' ? headWeights(g) : undefined;
  const derived = new Map<string, Fp8Derivation>();
  const graph = rewriteGraph(g, [fp8Rule((w) => heads === undefined || heads.has(w), o.minRows, derived)], { name: 'fp8-matmul' });
  const read = new Set(graphParams(graph).map((p) => p.argOf<string>('name')));
  return { graph, derived: [...derived.values()].filter((d) => read.has(d.fp8)) };
}

export function fp8Matmul(g: Graph, o: Fp8MatmulOptions): Graph {
  return fp8MatmulDerived(g, o).graph;
}

/**
 * The weights a rewritten graph reads in FP8, guessed from param names (original name → its fp8 and
 * scale params); for artifacts and tests. What the pass derived is fp8MatmulDerived's `derived`.
 */
export function fp8Params(g: Graph): Map<string, { fp8: string; scale: string }> {
  const out = new Map<string, { fp8: string; scale: string }>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'param' || n.dtype !== 'fp8e4m3') continue;
    const name = n.argOf<string>('name');
    if (!name.endsWith(FP8_SUFFIX)) continue;
    const base = name.slice(0, -FP8_SUFFIX.length);
    out.set(base, { fp8: name, scale: base + SCALE_SUFFIX });
  }
  return out;
}

export default definePass({
  name: 'fp8-matmul',
  summary: 'weight-only FP8 (e4m3, per-row f32 scale) for LM-head linears, or for all linears',
  description: [
    'Rewrites linear(x, W) with a bf16/f16/f32 param W[N,K] into linear(x, W.fp8 : fp8e4m3[N,K]) times',
    'broadcast(W.scale : f32[N]). weights=head (default) selects the LM heads: weights whose linear reaches',
    'an argmax, top-k or softmax over the output axis through elementwise ops; weights=all selects every',
    'param weight; minRows skips weights with fewer rows. Activations stay f32. Not exact: the runtime',
    'quantizer (runtime/quantize-fp8.ts) rounds W/scale to e4m3, scale = row amax / 448.',
  ].join(' '),
  options: Fp8MatmulOptions,
  run: fp8Matmul,
});
