// Reverse-mode autodiff over the IR: walk the graph from the loss back to the nodes asked for, applying
// each op's VJP rule (vjp.ts) and summing the contributions of every user. The result is more IR: the
// gradient graph goes through the same passes, scheduler and backends as any program.
import { isFloat } from '../ir/dtype.ts';
import { IRError } from '../ir/errors.ts';
import { toposort } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import { sameShape } from '../ir/shape.ts';
import { f32, konst, VJP } from './vjp.ts';

/**
 * A node's own backward, in place of the rules of the subgraph that computes it: given the gradient g
 * of the loss with respect to the node, the contributions [operand, gradient] to nodes below it (a
 * composite such as linearCrossEntropy, whose forward intermediates must not be read by the backward).
 */
export type CustomVjp = (g: Node) => readonly (readonly [Node, Node])[];

/**
 * d loss / d x for every x in `wrt` (f32, x's shape; zeros where the loss does not depend on x).
 * `seed` is the gradient of the loss itself (default 1; the loss may have any shape). `custom`: nodes
 * whose gradient goes to the nodes their rule names, not through their subgraph's rules.
 */
export function gradients(loss: Node, wrt: readonly Node[], seed?: Node, custom?: ReadonlyMap<Node, CustomVjp>): Map<Node, Node> {
  if (!isFloat(loss.dtype)) throw new IRError(`autodiff: the loss ${loss} is not a float tensor`);
  const order = toposort([loss]);
  // only nodes on a path to something in wrt need a gradient
  const wanted = new Set(wrt);
  const live = new Set<Node>();
  for (const n of order) if (wanted.has(n) || n.src.some((s) => live.has(s))) live.add(n);
  const parts = new Map<Node, Node[]>();
  const s0 = seed ?? konst(1, loss.shape);
  if (!sameShape(s0.shape, loss.shape)) throw new IRError(`autodiff: seed ${s0} does not match the loss ${loss}`);
  parts.set(loss, [f32(s0)]);
  const total = (n: Node): Node | undefined => {
    const p = parts.get(n);
    if (!p) return undefined;
    return p.reduce((a, b) => Node.make('add', [a, b]));
  };
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    if (!live.has(n) || n.src.length === 0) continue;
    const g = total(n);
    if (!g) continue;
    if (!wanted.has(n)) parts.delete(n);
    const own = custom?.get(n);
    if (own) {
      for (const [s, d] of own(g)) {
        if (!live.has(s) || !isFloat(s.dtype)) continue;
        if (!sameShape(d.shape, s.shape) || d.dtype !== 'f32') throw new IRError(`autodiff: the custom rule of ${n} gave ${d} for ${s}`);
        const l = parts.get(s);
        if (l) l.push(d); else parts.set(s, [d]);
      }
      continue;
    }
    const rule = VJP[n.op];
    if (!rule) throw new IRError(`autodiff: no VJP rule for ${n.op} (${n}), which lies between the loss and a parameter`);
    const ds = rule(n, g);
    n.src.forEach((s, k) => {
      const d = ds[k];
      if (!d || !live.has(s) || !isFloat(s.dtype)) return;
      if (!sameShape(d.shape, s.shape) || d.dtype !== 'f32') throw new IRError(`autodiff: the ${n.op} rule gave ${d} for operand ${s}`);
      const l = parts.get(s);
      if (l) l.push(d); else parts.set(s, [d]);
    });
  }
  const out = new Map<Node, Node>();
  for (const x of wrt) out.set(x, total(x) ?? konst(0, x.shape));
  return out;
}
