// The one IR node type: immutable and structurally interned, so equal nodes are the same object.
import type { DType } from './dtype.ts';
import type { Arg, ArgValue, Op } from './ops.ts';
import type { Shape } from './shape.ts';
import { inferNode } from './infer.ts';

const fmtNum = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));
const fmtVal = (v: ArgValue): string =>
  Array.isArray(v) ? `[${v.map((x) => (typeof x === 'number' ? fmtNum(x) : JSON.stringify(x))).join(',')}]`
    : typeof v === 'number' ? fmtNum(v) : JSON.stringify(v);

export function argKey(arg: Arg): string {
  if (arg === null) return '';
  return Object.keys(arg).sort().map((k) => `${k}=${fmtVal(arg[k])}`).join(';');
}

const table = new Map<string, WeakRef<Node>>();
const registry = new FinalizationRegistry<string>((key) => {
  const ref = table.get(key);
  if (ref && ref.deref() === undefined) table.delete(key);
});
let nextId = 0;

export class Node {
  readonly op: Op;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly src: readonly Node[];
  readonly arg: Arg;
  /** Creation order; stable within a process, used for deterministic ordering and keys. */
  readonly id: number;
  readonly key: string;

  private constructor(op: Op, dtype: DType, shape: Shape, src: readonly Node[], arg: Arg, key: string) {
    this.op = op;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.src = Object.freeze([...src]);
    this.arg = arg === null ? null : Object.freeze({ ...arg });
    this.id = nextId++;
    this.key = key;
    Object.freeze(this);
  }

  /**
   * The only way to make a node. dtype/shape are inferred from the sources by rule; leaves
   * (input, param, const) and cast name theirs explicitly.
   */
  static make(op: Op, src: readonly Node[], arg: Arg = null, dtype?: DType, shape?: Shape): Node {
    const t = inferNode(op, src, arg, dtype, shape);
    const key = `${op}|${t.dtype}|${t.shape.join(',')}|${src.map((s) => s.id).join(',')}|${argKey(arg)}`;
    const hit = table.get(key)?.deref();
    if (hit) return hit;
    const n = new Node(op, t.dtype, t.shape, src, arg, key);
    table.set(key, new WeakRef(n));
    registry.register(n, key);
    return n;
  }

  /** A copy with other sources (same op and arg), re-inferred and interned. */
  withSrc(src: readonly Node[]): Node {
    if (src.length === this.src.length && src.every((s, i) => s === this.src[i])) return this;
    const leafOrCast = this.op === 'cast' || this.op === 'input' || this.op === 'param' || this.op === 'const';
    return Node.make(this.op, src, this.arg, leafOrCast ? this.dtype : undefined, leafOrCast ? this.shape : undefined);
  }

  argOf<T extends ArgValue>(k: string): T {
    const v = this.arg?.[k];
    if (v === undefined) throw new Error(`${this.op} node has no "${k}" attribute`);
    return v as T;
  }

  toString(): string {
    return `${this.op}${this.arg ? `{${argKey(this.arg)}}` : ''}:${this.dtype}[${this.shape.join(',')}]`;
  }
}
