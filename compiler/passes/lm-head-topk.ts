// lm-head-topk: the LM-head top-k epilogue as a rewrite (tree drafts, top_k_tokens_per_head > 1). topk_values
// and/or topk_indices {k} of linear(x, W) — or of an fp8 head's mul(linear(x, W), broadcast(scale[N])) — whose
// logits nothing else reads become {k, epilogue = "linear"}: the scheduler computes them inside the linear
// kernel (each block keeps its first k (value, index) pairs per row, a reduce launch picks the row's first k;
// argmax order: NaN largest, ties → lowest index), so the logits never reach memory. Same head rules as
// lm-head-argmax (headParts), and f32 weights too; k ≤ MAX_EPILOGUE_K. The scheduler fuses only what this pass marked.
import { z } from 'zod';
import type { Graph } from '../ir/graph.ts';
import { graphNodes, makeGraph, toposort, users } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import { definePass } from './pass.ts';
import type { HeadParts } from './lm-head-argmax.ts';
import { ARGMAX_EPILOGUE, ARGMAX_WEIGHT_DTYPES, headParts } from './lm-head-argmax.ts';
import type { DType } from '../ir/dtype.ts';

/** The largest k a linear kernel keeps per block (k rounds of its argmax epilogue). */
export const MAX_EPILOGUE_K = 8;

/** Head weight dtypes: the argmax's, and f32 (the GEMV reads it; the tensor-core kernel does not, so f32 heads stay on the GEMV). */
export const TOPK_WEIGHT_DTYPES: ReadonlySet<DType> = new Set<DType>([...ARGMAX_WEIGHT_DTYPES, 'f32']);

/** One fused top-k head: its parts, k, and the topk nodes over its logits (values, indices or both). */
export interface TopkEpilogue extends HeadParts {
  readonly k: number;
  readonly values?: Node;
  readonly indices?: Node;
}

const isTopkNode = (n: Node): boolean => n.op === 'topk_values' || n.op === 'topk_indices';

/** The fused-able top-k heads of g (marked or not), by their linear. */
export function topkEpilogues(g: Graph): Map<Node, TopkEpilogue> {
  const use = users(g);
  const outs = new Set(g.outputs.map((o) => o.node));
  const out = new Map<Node, TopkEpilogue>();
  const seen = new Set<Node>();
  for (const n of graphNodes(g)) {
    if (!isTopkNode(n) || seen.has(n.src[0])) continue;
    const top = n.src[0];
    seen.add(top);
    const readers = use.get(top) ?? [];
    const k = n.argOf<number>('k');
    // only topk nodes of one k read the logits (the values, the indices, or both)
    if (outs.has(top) || k > MAX_EPILOGUE_K || !readers.every((r) => isTopkNode(r) && r.argOf<number>('k') === k)) continue;
    const parts = headParts(g, top, use, TOPK_WEIGHT_DTYPES);
    if (!parts) continue;
    const values = readers.find((r) => r.op === 'topk_values'), indices = readers.find((r) => r.op === 'topk_indices');
    out.set(parts.linear, { ...parts, k, ...(values ? { values } : {}), ...(indices ? { indices } : {}) });
  }
  return out;
}

export const isTopkMarked = (n: Node): boolean => isTopkNode(n) && n.arg?.epilogue === ARGMAX_EPILOGUE;

/** The topk nodes of one fused head. */
export const topkNodes = (e: TopkEpilogue): Node[] => [e.values, e.indices].filter((x): x is Node => x !== undefined);

export function lmHeadTopk(g: Graph): Graph {
  const found = new Set([...topkEpilogues(g).values()].flatMap(topkNodes));
  if ([...found].every(isTopkMarked)) return g;
  const map = new Map<Node, Node>();
  for (const n of toposort([...g.inputs, ...g.outputs.map((o) => o.node)])) {
    const src = n.src.map((s) => map.get(s)!);
    map.set(n, found.has(n) && !isTopkMarked(n) ? Node.make(n.op, src, { ...n.arg, epilogue: ARGMAX_EPILOGUE }) : n.withSrc(src));
  }
  return makeGraph(g.name, g.inputs.map((i) => map.get(i)!), g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! })));
}

export default definePass({
  name: 'lm-head-topk',
  summary: 'fuse top-k (k ≤ 8) over an LM head\'s logits into the head linear (the logits are never stored)',
  description: [
    'Marks topk_values/topk_indices {k} of linear(x, W) over the output axis, and of the fp8 form',
    'mul(linear(x, W), broadcast(scale[N])), with {epilogue = "linear"} when nothing but top-k nodes of that k',
    'read the logits, W is bf16, fp8e4m3 or f32 with a static N, and k ≤ 8. The scheduler computes marked top-k in',
    'the linear kernel (each block\'s first k pairs per row, then a reduce launch; NaN largest, ties to the',
    'lowest index, as the interpreter). Unmarked top-k reads stored logits. Run last, after lm-head-argmax.',
  ].join(' '),
  options: z.strictObject({}),
  run: (g) => lmHeadTopk(g),
});
