// One LM head's training graph through linearCrossEntropy (compiler/autodiff/training-form.ts): x: f32[M, K]
// (through a tanh, as a drafter's head input is computed), param w: f32[V, K], labels y: i32[M];
// outputs loss (mean over rows), dx and dw. `chunk` ≥ V is the unchunked form.
import { gradients } from '../../compiler/autodiff/grad.ts';
import type { CustomVjp } from '../../compiler/autodiff/grad.ts';
import { linearCrossEntropy } from '../../compiler/autodiff/training-form.ts';
import { konst } from '../../compiler/autodiff/vjp.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import { makeGraph } from '../../compiler/ir/graph.ts';
import { Node } from '../../compiler/ir/node.ts';

export function ceHeadGraph(M: number, K: number, V: number, chunk: number): { graph: Graph; chunks: number } {
  const mk = Node.make;
  const x = mk('input', [], { name: 'x' }, 'f32', [M, K]);
  const w = mk('param', [], { name: 'w' }, 'f32', [V, K]);
  const y = mk('input', [], { name: 'y' }, 'i32', [M]);
  const f = linearCrossEntropy(mk('tanh', [x]), w, y, { chunk });
  const loss = mk('mul', [mk('sum', [f.loss], { axis: 0 }), konst(1 / M, [])]);
  const gr = gradients(loss, [x, w], undefined, new Map<Node, CustomVjp>(f.vjp ? [[f.loss, f.vjp]] : []));
  return { graph: makeGraph('ce_head', [x, y], [{ name: 'loss', node: loss }, { name: 'dx', node: gr.get(x)! }, { name: 'dw', node: gr.get(w)! }]), chunks: f.chunks };
}
