// gate-fusion: linears that read the same activation become one projection. A user's LSTM written with four
// gate linears, linear(x, W_i), linear(x, W_f), linear(x, W_g), linear(x, W_o) (each W [D, K]), becomes
//   P = linear(x, param "gates(W_i,W_f,W_g,W_o)" : [4D, K]),   gate_j = slice(P, last axis, jD, (j+1)D)
// so the weights stream in one GEMV launch and x is read once. Exact: every output column of a linear is its
// own dot product, so the sliced columns equal the separate linears bit for bit (interpreter and kernels).
// The fused weight is the named weights concatenated along rows, in the order the linears were written (traced or parsed);
// the pass returns that derivation as data (gateFusionDerived), and the runtime builds the weight from it
// (runtime/gate-weights.ts). After it, fold-concat-slice pushes the slices through the gate arithmetic as it
// does for the built-in LSTM's hand-fused projection (slice_j(P) + α·e instead of a tiled [e,e,e,e]).
// Left alone: LM-head weights (their argmax/top-k epilogue needs the whole linear), weights that are not
// params or have symbolic shapes, and weights of another dtype than the first of the group.
import { z } from 'zod';
import type { DType } from '../ir/dtype.ts';
import { IRError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { graphNodes, graphParams, makeGraph, toposort } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import { headWeights } from './fp8-matmul.ts';
import { definePass } from './pass.ts';
import { makeSlice } from './patterns.ts';

/** How one fused weight is made from the user's named weights: their rows concatenated, in `from` order. */
export interface GateDerivation {
  /** the fused param's name */
  readonly name: string;
  /** always 0: the weights are stacked along their output rows */
  readonly axis: 0;
  /** the weights, in row order of the fused weight */
  readonly from: readonly string[];
  readonly dtype: DType;
  /** [ΣN_j, K] */
  readonly shape: readonly [number, number];
}

/** The fused weight's name: the parts, in row order. */
export const fusedGateName = (parts: readonly string[]): string => `gates(${parts.join(',')})`;

const staticWeight = (w: Node): boolean => w.op === 'param' && w.shape.length === 2 && w.shape.every((d) => typeof d === 'number');

/**
 * gateFusion, also returning the derivation of every fused weight the output reads. Groups are keyed by
 * (input node, weight dtype); a group of two or more distinct weights is fused.
 */
export function gateFusionDerived(g: Graph): { graph: Graph; derived: GateDerivation[] } {
  const heads = headWeights(g);
  const groups = new Map<Node, Map<DType, Node[]>>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'linear') continue;
    const [x, w] = n.src;
    if (!staticWeight(w) || heads.has(w)) continue;
    const byType = groups.get(x) ?? new Map<DType, Node[]>();
    groups.set(x, byType);
    const list = byType.get(w.dtype) ?? [];
    byType.set(w.dtype, list);
    list.push(n);
  }
  const names = new Set(graphParams(g).map((p) => p.argOf<string>('name')));
  /** each fused linear → (fused weight, its row range) */
  const plan = new Map<Node, { weight: Node; start: number; end: number }>();
  const derived = new Map<string, GateDerivation>();
  for (const byType of groups.values()) for (const [dtype, lins] of byType) {
    if (lins.length < 2) continue;
    lins.sort((a, b) => a.id - b.id); // the order they were written in (node ids grow with creation)
    const from = lins.map((l) => l.src[1].argOf<string>('name'));
    const name = fusedGateName(from);
    if (names.has(name)) {
      throw new IRError(`gate-fusion: ${lins[0]} and ${lins.length - 1} other linear(s) of ${lins[0].src[0]} would fuse into param "${name}", but the program already declares a param of that name; rename it`);
    }
    const K = lins[0].src[1].shape[1] as number;
    let rows = 0;
    const ranges = lins.map((l) => { const start = rows; rows += l.src[1].shape[0] as number; return { start, end: rows }; });
    const weight = Node.make('param', [], { name }, dtype, [rows, K]);
    lins.forEach((l, j) => plan.set(l, { weight, ...ranges[j] }));
    derived.set(name, { name, axis: 0, from, dtype, shape: [rows, K] });
  }
  if (plan.size === 0) return { graph: g, derived: [] };
  const map = new Map<Node, Node>();
  for (const n of toposort([...g.inputs, ...g.outputs.map((o) => o.node)])) {
    const src = n.src.map((s) => map.get(s)!);
    const p = plan.get(n);
    if (!p) { map.set(n, n.withSrc(src)); continue; }
    const fused = Node.make('linear', [src[0], p.weight]);
    map.set(n, makeSlice(fused, fused.shape.length - 1, p.start, p.end));
  }
  const graph = makeGraph(g.name, g.inputs.map((i) => map.get(i)!), g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! })));
  return { graph, derived: [...derived.values()] };
}

export const gateFusion = (g: Graph): Graph => gateFusionDerived(g).graph;

export default definePass({
  name: 'gate-fusion',
  summary: 'fuse linears that read the same input into one projection over the row-concatenated weight',
  description: [
    'linear(x, W_1) … linear(x, W_n) with W_j params of one dtype ([N_j, K], static) become slices of one',
    'linear(x, param "gates(W_1,…,W_n)" : [ΣN_j, K]), the weights stacked along rows in the order the linears were written. Exact.',
    'LM-head weights are left alone (their argmax/top-k epilogue needs the whole linear). The derivation of',
    'each fused weight is returned by gateFusionDerived; runtime/gate-weights.ts builds the weight from it.',
  ].join(' '),
  options: z.strictObject({}),
  run: (g) => gateFusion(g),
});
