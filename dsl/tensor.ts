// Tensor<Shape, DType>: a traced value. Methods record IR nodes; nothing is computed here.
import type { DType, FloatDType, IntDType } from '../compiler/ir/dtype.ts';
import { isFloat } from '../compiler/ir/dtype.ts';
import { Node } from '../compiler/ir/node.ts';
import type { Op } from '../compiler/ir/ops.ts';
import type { Dim, Shape } from '../compiler/ir/shape.ts';
import { fmtShape, normAxis, sameShape } from '../compiler/ir/shape.ts';
import { callSite, DslError } from './scope.ts';
import type { Scope } from './scope.ts';
import type {
  Broadcast, CheckAxis, CheckBroadcast, CheckLastDim, CheckPromote, DimLike, Init, Last, Promote, RemoveAxis, Replace, ShapeT,
} from './types.ts';

type Operand<S extends ShapeT, D extends DType, S2 extends ShapeT, D2 extends DType> =
  Tensor<S2, D2> & CheckBroadcast<S, S2> & CheckPromote<D, D2>;

export function broadcastShapes(a: Shape, b: Shape): Dim[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else return undefined;
  }
  return out;
}

/** A traced tensor whose shape and dtype are part of its type; every method records an IR node. */
export class Tensor<S extends ShapeT = ShapeT, D extends DType = DType> {
  declare readonly __shape: S;
  declare readonly __dtype: D;
  readonly node: Node;
  readonly scope: Scope;

  constructor(node: Node, scope: Scope) {
    this.node = node;
    this.scope = scope;
  }

  /** The shape as the IR sees it: bound names resolved to sizes, unbound names kept. */
  get shape(): Shape { return this.node.shape; }
  get dtype(): D { return this.node.dtype as D; }
  get rank(): number { return this.node.shape.length; }

  protected make<S2 extends ShapeT, D2 extends DType>(op: Op, src: readonly Node[], arg: Node['arg'] = null, dtype?: DType, shape?: Shape): Tensor<S2, D2> {
    return new Tensor<S2, D2>(this.scope.build(() => Node.make(op, src, arg, dtype, shape)), this.scope);
  }

  /** A constant of this tensor's shape. */
  full(value: number, dtype: DType = this.dtype): Tensor<S, D> {
    return this.make('const', [], { value }, dtype, this.shape);
  }

  cast<T extends DType>(dtype: T): Tensor<S, T> {
    return (dtype as DType) === this.dtype ? (this as unknown as Tensor<S, T>) : this.make('cast', [this.node], null, dtype);
  }

  broadcastTo<const T extends ShapeT>(shape: T): Tensor<T, D> {
    const target = shape.map((d) => this.scope.resolve(d));
    if (sameShape(target, this.shape)) return this as unknown as Tensor<T, D>;
    return this.make('broadcast', [this.node], { shape: target });
  }

  /** Promote to a common dtype and broadcast both operands (numpy rules). */
  private pair(other: Tensor | number, op: string): [Node, Node] {
    if (typeof other === 'number') return [this.node, this.full(other).node];
    let a = this as unknown as Tensor, b = other;
    if (a.dtype !== b.dtype) {
      if (!isFloat(a.dtype) || !isFloat(b.dtype)) throw new DslError(`${op}: dtype mismatch ${a.dtype} vs ${b.dtype} (cast one explicitly)`, callSite());
      a = a.cast('f32'); b = b.cast('f32');
    }
    const s = broadcastShapes(a.shape, b.shape);
    if (!s) throw new DslError(`${op}: cannot broadcast ${fmtShape(a.shape)} with ${fmtShape(b.shape)}`, callSite());
    return [a.broadcastTo(s).node, b.broadcastTo(s).node];
  }

  private binary(op: Op, other: Tensor | number): Tensor<any, any> {
    return this.make(op, this.pair(other, op));
  }

  add<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, Promote<D, D2>>;
  add(o: number): Tensor<S, D>;
  add(o: Tensor | number): Tensor<any, any> { return this.binary('add', o); }
  sub<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, Promote<D, D2>>;
  sub(o: number): Tensor<S, D>;
  sub(o: Tensor | number): Tensor<any, any> { return this.binary('sub', o); }
  mul<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, Promote<D, D2>>;
  mul(o: number): Tensor<S, D>;
  mul(o: Tensor | number): Tensor<any, any> { return this.binary('mul', o); }
  div<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, Promote<D, D2>>;
  div(o: number): Tensor<S, D>;
  div(o: Tensor | number): Tensor<any, any> { return this.binary('div', o); }
  maximum<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, Promote<D, D2>>;
  maximum(o: number): Tensor<S, D>;
  maximum(o: Tensor | number): Tensor<any, any> { return this.binary('max', o); }
  minimum<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, Promote<D, D2>>;
  minimum(o: number): Tensor<S, D>;
  minimum(o: Tensor | number): Tensor<any, any> { return this.binary('min', o); }
  lt<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, 'bool'>;
  lt(o: number): Tensor<S, 'bool'>;
  lt(o: Tensor | number): Tensor<any, any> { return this.binary('cmplt', o); }
  eq<S2 extends ShapeT, D2 extends DType>(o: Operand<S, D, S2, D2>): Tensor<Broadcast<S, S2>, 'bool'>;
  eq(o: number): Tensor<S, 'bool'>;
  eq(o: Tensor | number): Tensor<any, any> { return this.binary('cmpeq', o); }

  private unary(op: Op, arg: Node['arg'] = null): Tensor<S, D> { return this.make(op, [this.node], arg); }
  neg(): Tensor<S, D> { return this.unary('neg'); }
  abs(): Tensor<S, D> { return this.unary('abs'); }
  exp(): Tensor<S, D> { return this.unary('exp'); }
  log(): Tensor<S, D> { return this.unary('log'); }
  sqrt(): Tensor<S, D> { return this.unary('sqrt'); }
  rsqrt(): Tensor<S, D> { return this.unary('rsqrt'); }
  recip(): Tensor<S, D> { return this.unary('recip'); }
  tanh(): Tensor<S, D> { return this.unary('tanh'); }
  erf(): Tensor<S, D> { return this.unary('erf'); }
  sigmoid(): Tensor<S, D> { return this.unary('sigmoid'); }
  /** GELU: exact erf form by default (what Arctic uses), or the tanh approximation. */
  gelu(approx: 'erf' | 'tanh' = 'erf'): Tensor<S, D> { return this.unary('gelu', { approx }); }
  silu(): Tensor<S, D> { return this.mul(this.sigmoid() as never) as never; }
  clamp(lo: number, hi: number): Tensor<S, D> { return this.maximum(lo).minimum(hi); }

  private axis(a: number): number {
    try { return normAxis(a, this.rank); } catch (e) { throw new DslError(`axis ${a} out of range for shape ${fmtShape(this.shape)}`, callSite()); }
  }
  sum<const A extends number>(axis: A & CheckAxis<S, A>): Tensor<RemoveAxis<S, A>, D> { return this.make('sum', [this.node], { axis: this.axis(axis) }); }
  max<const A extends number>(axis: A & CheckAxis<S, A>): Tensor<RemoveAxis<S, A>, D> { return this.make('reduce_max', [this.node], { axis: this.axis(axis) }); }
  argmax<const A extends number>(axis: A & CheckAxis<S, A>): Tensor<RemoveAxis<S, A>, 'i32'> { return this.make('argmax', [this.node], { axis: this.axis(axis) }); }
  mean<const A extends number>(axis: A & CheckAxis<S, A>): Tensor<RemoveAxis<S, A>, D> {
    const ax = this.axis(axis);
    const n = this.shape[ax];
    if (typeof n !== 'number') throw new DslError(`mean over symbolic dim "${n}" is not supported`, callSite());
    return this.sum(axis as number).div(n) as never;
  }
  /** Top-k along the last axis: values descending, ties to the lower index. */
  topk<const K extends number>(k: K): { values: Tensor<Replace<S, -1, K>, D>; indices: Tensor<Replace<S, -1, K>, 'i32'> } {
    return { values: this.make('topk_values', [this.node], { k }), indices: this.make('topk_indices', [this.node], { k }) };
  }
  softmax(): Tensor<S, D> { return this.unary('softmax'); }

  /** x · wᵀ for a weight stored [N, K] (PyTorch Linear layout); f32 result. */
  linear<N extends DimLike, K extends DimLike, DW extends FloatDType>(
    w: Tensor<readonly [N, K], DW> & CheckLastDim<S, K, 'linear'>,
  ): Tensor<readonly [...Init<S>, N], 'f32'> {
    return this.make('linear', [this.node, w.node]);
  }
  /** a · b for b stored [K, N]; f32 result. */
  matmul<K extends DimLike, N extends DimLike, DW extends FloatDType>(
    b: Tensor<readonly [K, N], DW> & CheckLastDim<S, K, 'matmul'>,
  ): Tensor<readonly [...Init<S>, N], 'f32'> {
    return this.make('matmul', [this.node, b.node]);
  }

  reshape<const T extends ShapeT>(shape: T): Tensor<T, D> {
    return this.make('reshape', [this.node], { shape: shape.map((d) => this.scope.resolve(d)) });
  }
  permute<const P extends readonly number[]>(perm: P): Tensor<{ readonly [I in keyof P]: `${P[I]}` extends keyof S ? S[P[I] & keyof S] : DimLike }, D> {
    return this.make('permute', [this.node], { perm: [...perm] });
  }
  /** Elements [start, end) of an axis; name the resulting dim for the type checker. */
  slice<const A extends number, const N extends DimLike = number>(axis: A & CheckAxis<S, A>, start: number, end: number, _dim?: N): Tensor<Replace<S, A, N>, D> {
    return this.make('slice', [this.node], { axis: this.axis(axis), start, end });
  }
  /** n equal pieces along an axis, each of size `dim` (a bound name or a number). */
  chunk<const A extends number, const N extends DimLike>(axis: A & CheckAxis<S, A>, n: number, dim: N): Tensor<Replace<S, A, N>, D>[] {
    const ax = this.axis(axis);
    const size = this.shape[ax];
    const each = this.scope.resolve(dim);
    if (typeof size !== 'number' || typeof each !== 'number' || size !== n * each) {
      throw new DslError(`chunk: axis ${ax} of ${fmtShape(this.shape)} is not ${n} pieces of ${dim}=${each}`, callSite());
    }
    return Array.from({ length: n }, (_, i) => this.slice(axis as number, i * each, (i + 1) * each, dim) as never);
  }
}

export type { DimLike, Init, IntDType, Last, ShapeT };
