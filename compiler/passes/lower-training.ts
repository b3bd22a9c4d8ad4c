// lower-training: the training ops in terms of the ops the scheduler and PTX backend know. stop_gradient
// is its operand (it only steers compiler/autodiff). scatter_add stays: it has its own kernel
// (kernel-scatter-add.ts, no one-hot matrix) when its update width is static; otherwise it is written as
// the contraction one_hot(ids)ᵀ · u (f32[rows, M] · [M, R]). one_hot stays: the expression emitter computes
// it inline (ids[i] == j).
import { z } from 'zod';
import type { Graph } from '../ir/graph.ts';
import { graphNodes } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import type { Rule } from '../ir/rewrite.ts';
import { rewriteGraph } from '../ir/rewrite.ts';
import { definePass } from './pass.ts';

export const LOWER_TRAINING_RULES: readonly Rule[] = [
  { name: 'stop-gradient-is-identity', op: 'stop_gradient', match: (n) => n.src[0] },
  {
    // the scatter-add kernel takes a static update width; a symbolic one goes through the GEMM path
    name: 'scatter-add-as-one-hot-matmul', op: 'scatter_add', match: (n) => {
      const [u, ids] = n.src;
      if (typeof u.shape[1] === 'number') return undefined;
      const oh = Node.make('one_hot', [ids], { depth: n.argOf<number>('rows') });
      const t = Node.make('permute', [oh], { perm: [1, 0] });
      return Node.make('matmul', [t, u]);
    },
  },
];

/** The graph with its training ops lowered (the graph itself when it has none). */
export function lowerTraining(g: Graph): Graph {
  if (!graphNodes(g).some((n) => n.op === 'stop_gradient' || (n.op === 'scatter_add' && typeof n.src[0].shape[1] !== 'number'))) return g;
  return rewriteGraph(g, LOWER_TRAINING_RULES, { name: 'lower-training' });
}

export default definePass({
  name: 'lower-training',
  summary: 'stop_gradient → its operand; scatter_add with a symbolic width → one_hot(ids)ᵀ · updates',
  description: 'Lowers the ops gradient graphs use to what codegen knows: stop_gradient is an identity once gradients are built. scatter_add keeps its own kernel (no one-hot matrix) where the update width is static, and is a matmul with a one-hot operand the kernels compute inline otherwise.',
  options: z.object({}).strict(),
  run: (g) => lowerTraining(g),
});
