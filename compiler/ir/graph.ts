// A graph: named inputs, named outputs, and everything reachable from the outputs.
import { IRError } from './errors.ts';
import type { Node } from './node.ts';

export interface GraphOutput { readonly name: string; readonly node: Node }

/** A graph of the IR: named inputs, named outputs, and every node reachable from the outputs. */
export interface Graph {
  readonly name: string;
  /** input nodes, in signature order */
  readonly inputs: readonly Node[];
  readonly outputs: readonly GraphOutput[];
}

export function makeGraph(name: string, inputs: readonly Node[], outputs: readonly GraphOutput[]): Graph {
  for (const i of inputs) if (i.op !== 'input') throw new IRError(`graph ${name}: ${i} is not an input node`);
  const names = new Set<string>();
  for (const o of outputs) {
    if (names.has(o.name)) throw new IRError(`graph ${name}: duplicate output "${o.name}"`);
    names.add(o.name);
  }
  return Object.freeze({ name, inputs: Object.freeze([...inputs]), outputs: Object.freeze(outputs.map((o) => Object.freeze({ ...o }))) });
}

/** Post-order (operands before users), deterministic: sources visited in order. */
export function toposort(roots: readonly Node[]): Node[] {
  const seen = new Set<Node>();
  const order: Node[] = [];
  const stack: [Node, number][] = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    stack.push([r, 0]);
    seen.add(r);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      if (i < n.src.length) {
        top[1]++;
        const s = n.src[i];
        if (!seen.has(s)) { seen.add(s); stack.push([s, 0]); }
      } else {
        stack.pop();
        order.push(n);
      }
    }
  }
  return order;
}

export const graphNodes = (g: Graph): Node[] => toposort([...g.inputs, ...g.outputs.map((o) => o.node)]);
export const graphParams = (g: Graph): Node[] => graphNodes(g).filter((n) => n.op === 'param');

/** Users of each node within the graph. */
export function users(g: Graph): Map<Node, Node[]> {
  const m = new Map<Node, Node[]>();
  for (const n of graphNodes(g)) for (const s of n.src) {
    const l = m.get(s);
    if (l) { if (!l.includes(n)) l.push(n); } else m.set(s, [n]);
  }
  return m;
}

/** Structural equality of two graphs (with interning: the same nodes and names). */
export function sameGraph(a: Graph, b: Graph): boolean {
  return a.name === b.name
    && a.inputs.length === b.inputs.length && a.inputs.every((n, i) => n === b.inputs[i])
    && a.outputs.length === b.outputs.length
    && a.outputs.every((o, i) => o.name === b.outputs[i].name && o.node === b.outputs[i].node);
}
