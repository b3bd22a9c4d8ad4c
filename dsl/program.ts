// Programs: a traced function of named inputs and parameters, with dims bound by name.
import type { DType } from '../compiler/ir/dtype.ts';
import type { Graph } from '../compiler/ir/graph.ts';
import { makeGraph } from '../compiler/ir/graph.ts';
import { Node } from '../compiler/ir/node.ts';
import { isDimName } from '../compiler/ir/shape.ts';
import { callSite, DslError, Scope } from './scope.ts';
import { Tensor } from './tensor.ts';
import type { ShapeT } from './types.ts';

/** A traced drafter: its graph IR, the dims bound by name, and where each node was built. `defineProgram` returns one. */
export interface Program {
  readonly graph: Graph;
  readonly dims: Readonly<Record<string, number>>;
  /** where each IR node was built (file:line:col), for error messages after tracing */
  readonly sites: WeakMap<Node, string>;
}

/** What a `defineProgram` body receives: declares inputs, params and outputs. */
export class ProgramBuilder {
  readonly scope: Scope;
  readonly inputs: Node[] = [];
  readonly outputs: { name: string; node: Node }[] = [];
  readonly #params = new Map<string, Node>();

  constructor(dims: Readonly<Record<string, number>>) {
    this.scope = new Scope(dims);
  }

  private leaf<S extends ShapeT, D extends DType>(op: 'input' | 'param', name: string, shape: S, dtype: D): Tensor<S, D> {
    const resolved = shape.map((d) => {
      if (typeof d === 'string' && !isDimName(d)) throw new DslError(`${op} "${name}": dim "${d}" is not a valid name`, callSite());
      if (typeof d === 'number' && !(Number.isInteger(d) && d >= 0)) throw new DslError(`${op} "${name}": dim ${d} is not a size`, callSite());
      return this.scope.resolve(d);
    });
    if (op === 'param' && resolved.some((d) => typeof d === 'string')) {
      throw new DslError(`param "${name}": every dim must be bound (got [${shape.join(', ')}])`, callSite());
    }
    return new Tensor<S, D>(this.scope.build(() => Node.make(op, [], { name }, dtype, resolved)), this.scope);
  }

  /** A runtime input, e.g. input('hidden', ['B', 'H'], 'f32'). Unbound dim names stay symbolic. */
  input<const S extends ShapeT, const D extends DType>(name: string, shape: S, dtype: D): Tensor<S, D> {
    if (!isDimName(name)) throw new DslError(`input name "${name}" must be an identifier`, callSite());
    if (this.inputs.some((n) => n.arg?.name === name)) throw new DslError(`input "${name}" declared twice`, callSite());
    const t = this.leaf('input', name, shape, dtype);
    this.inputs.push(t.node);
    return t;
  }

  /** A weight, loaded from a checkpoint under this name. Declaring a name again returns the same tensor. */
  param<const S extends ShapeT, const D extends DType>(name: string, shape: S, dtype: D): Tensor<S, D> {
    const t = this.leaf('param', name, shape, dtype);
    const prev = this.#params.get(name);
    if (prev && prev !== t.node) throw new DslError(`param "${name}" declared with two shapes: ${prev} and ${t.node}`, callSite());
    this.#params.set(name, t.node);
    return t;
  }

  output(name: string, t: Tensor<any, any>): void {
    if (!isDimName(name)) throw new DslError(`output name "${name}" must be an identifier`, callSite());
    if (this.outputs.some((o) => o.name === name)) throw new DslError(`output "${name}" declared twice`, callSite());
    this.outputs.push({ name, node: t.node });
  }
}

/** Trace `body` once with the given dim bindings and return its graph. */
export function defineProgram(name: string, dims: Readonly<Record<string, number>>, body: (p: ProgramBuilder) => void): Program {
  if (!isDimName(name)) throw new DslError(`program name "${name}" must be an identifier`, callSite());
  const b = new ProgramBuilder(dims);
  body(b);
  if (b.outputs.length === 0) throw new DslError(`program ${name} declares no outputs`, callSite());
  return { graph: makeGraph(name, b.inputs, b.outputs), dims: { ...dims }, sites: b.scope.sites };
}
