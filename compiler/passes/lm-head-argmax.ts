// lm-head-argmax: the LM-head argmax epilogue as a rewrite. argmax(linear(x, W), last axis) — or an fp8
// head's argmax(mul(linear(x, W), broadcast(scale[N]))) — whose logits (and scaled logits) have no other
// use becomes argmax {epilogue = "linear"}: the scheduler computes it inside the linear kernel (per-block
// (max, index) partials, then a reduce launch), so the logits never reach memory. The scheduler fuses
// only what this pass marked (and still matches), so `--dump-after lm-head-argmax` shows every fusion.
// compileProgram runs it last (idempotent), so a graph compiled without the pipeline fuses the same way.
import { z } from 'zod';
import type { DType } from '../ir/dtype.ts';
import type { Graph } from '../ir/graph.ts';
import { graphNodes, makeGraph, toposort, users } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import { sameShape } from '../ir/shape.ts';
import { isLeaf, viewBase } from '../schedule/types.ts';
import { definePass } from './pass.ts';

export const ARGMAX_EPILOGUE = 'linear';

/** What one fused head is made of: the linear, and for a scaled head the mul and its scale[N]. */
export interface ArgmaxEpilogue { readonly argmax: Node; readonly linear: Node; readonly mul?: Node; readonly scale?: Node }


/** The parts of an LM head's logits `top` (what the reduction reads), or undefined when a linear cannot hold the reduction. */
export type HeadParts = Omit<ArgmaxEpilogue, 'argmax'>;

/** The weight dtypes whose argmax the linear kernels hold (as before the pass existed: the timed heads). */
export const ARGMAX_WEIGHT_DTYPES: ReadonlySet<DType> = new Set<DType>(['bf16', 'fp8e4m3']);

/**
 * `top` as linear(x, W) or mul(linear(x, W), broadcast(scale[N])) (an fp8 head), W of one of `dtypes` with
 * a static N, the linear read only by the mul. The caller checks who reads `top` (and over which axis).
 */
export function headParts(g: Graph, top: Node, use: ReadonlyMap<Node, Node[]> = users(g), dtypes: ReadonlySet<DType> = ARGMAX_WEIGHT_DTYPES): HeadParts | undefined {
  const outs = new Set(g.outputs.map((o) => o.node));
  const alone = (n: Node): boolean => use.get(n)?.length === 1 && !outs.has(n);
  /** scale[N] read from memory (a leaf), broadcast along the last axis of `l` */
  const scaleOf = (m: Node, l: Node): Node | undefined => {
    const c = m.src[0] === l ? m.src[1] : m.src[0];
    const v = c.src[0];
    if (c.op !== 'broadcast' || !sameShape(c.shape, l.shape) || v.dtype !== 'f32' || !isLeaf(viewBase(v))) return undefined;
    return v.shape.length === 1 && v.shape[0] === l.shape[l.shape.length - 1] ? v : undefined;
  };
  let l = top, mul: Node | undefined, scale: Node | undefined;
  if (l.op === 'mul' && l.dtype === 'f32') {
    const lin = l.src.find((x) => x.op === 'linear');
    scale = lin && scaleOf(l, lin);
    if (!lin || !scale || !alone(lin)) return undefined;
    mul = l; l = lin;
  }
  if (l.op !== 'linear') return undefined;
  if (!dtypes.has(l.src[1].dtype)) return undefined;
  if (typeof l.shape[l.shape.length - 1] !== 'number') return undefined;
  return { linear: l, ...(mul ? { mul, scale } : {}) };
}

/** The argmax nodes of g whose linear can hold them (marked or not), each with its parts. */
export function argmaxEpilogues(g: Graph): Map<Node, ArgmaxEpilogue> {
  const use = users(g);
  const outs = new Set(g.outputs.map((o) => o.node));
  const out = new Map<Node, ArgmaxEpilogue>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'argmax') continue;
    const top = n.src[0];
    if (n.argOf<number>('axis') !== top.shape.length - 1 || use.get(top)?.length !== 1 || outs.has(top)) continue;
    const parts = headParts(g, top, use);
    if (parts) out.set(n, { argmax: n, ...parts });
  }
  return out;
}

/** The epilogue value of an argmax the lm-head-certify pass marked (docs/certified-argmax.md): fused as well, certified at B ≥ 5. */
export const CERTIFIED_EPILOGUE = 'certified';

/** Whether argmax n is fused into its linear: marked "linear" by this pass or "certified" by lm-head-certify. */
export const isMarked = (n: Node): boolean => n.op === 'argmax' && (n.arg?.epilogue === ARGMAX_EPILOGUE || n.arg?.epilogue === CERTIFIED_EPILOGUE);
/** Whether argmax n is marked for the certified head (lm-head-certify). */
export const isCertified = (n: Node): boolean => n.op === 'argmax' && n.arg?.epilogue === CERTIFIED_EPILOGUE;

export function lmHeadArgmax(g: Graph): Graph {
  const found = argmaxEpilogues(g);
  if ([...found.keys()].every(isMarked)) return g;
  const map = new Map<Node, Node>();
  for (const n of toposort([...g.inputs, ...g.outputs.map((o) => o.node)])) {
    const src = n.src.map((s) => map.get(s)!);
    map.set(n, found.has(n) && !isMarked(n) ? Node.make('argmax', src, { ...n.arg, epilogue: ARGMAX_EPILOGUE }) : n.withSrc(src));
  }
  return makeGraph(g.name, g.inputs.map((i) => map.get(i)!), g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! })));
}

export default definePass({
  name: 'lm-head-argmax',
  summary: 'fuse argmax over an LM head\'s logits into the head linear (the logits are never stored)',
  description: [
    'Marks argmax(linear(x, W)) over the output axis, and the fp8 form argmax(mul(linear(x, W), broadcast(scale[N]))),',
    'with {epilogue = "linear"} when the logits have no other use and W is bf16 or fp8e4m3 with a static N.',
    'The scheduler computes a marked argmax in the linear kernel (per-block partials and a reduce launch).',
    'Unmarked argmaxes read stored logits. Run last: compileProgram runs it again (a no-op when already run).',
  ].join(' '),
  options: z.strictObject({}),
  run: (g) => lmHeadArgmax(g),
});
