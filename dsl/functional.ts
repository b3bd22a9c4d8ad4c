// Free-standing ops: the ones over several tensors, norms with affine, embedding, loops.
import type { DType, FloatDType } from '../compiler/ir/dtype.ts';
import { Node } from '../compiler/ir/node.ts';
import { fmtShape, normAxis } from '../compiler/ir/shape.ts';
import { callSite, DslError } from './scope.ts';
import { broadcastShapes, Tensor } from './tensor.ts';
import type { Broadcast, CheckAgree, CheckAxis, DimLike, Replace, ShapeT } from './types.ts';

/** The default epsilon of rmsNorm and layerNorm. */
export const RMS_EPS = 1e-6;

/** Join tensors along an axis; name the joined dim for the type checker. */
export function concat<const T extends readonly Tensor[], const A extends number, const N extends DimLike>(
  xs: T & CheckAgree<T, A, 'concat'>, axis: A & CheckAxis<T[0]['__shape'], A>, dim: N,
): Tensor<Replace<T[0]['__shape'], A, N>, T[0]['__dtype']> {
  if (xs.length === 0) throw new DslError('concat: no tensors', callSite());
  const [f] = xs;
  let ax: number;
  try { ax = normAxis(axis, f.rank); } catch { throw new DslError(`concat: axis ${axis} out of range for shape ${fmtShape(f.shape)}`, callSite()); }
  const t = new Tensor<Replace<T[0]['__shape'], A, N>, T[0]['__dtype']>(f.scope.build(() => Node.make('concat', xs.map((x) => x.node), { axis: ax })), f.scope);
  const want = f.scope.resolve(dim);
  if (typeof want === 'number' && t.shape[ax] !== want) throw new DslError(`concat: joined dim is ${t.shape[ax]}, but "${dim}" is ${want}`, callSite());
  return t;
}

/** Stack same-shaped tensors along a new last axis: k × [...S] → [...S, k]. */
export function stack<T extends Tensor<any, any>>(xs: readonly T[]): Tensor<readonly [...T['__shape'], number], T['__dtype']> {
  if (xs.length === 0) throw new DslError('stack: no tensors', callSite());
  const cols = xs.map((x) => x.reshape([...x.shape, 1]));
  return concat(cols, -1, xs.length) as never;
}

/** Elementwise cond ? a : b; all three broadcast together (the condition's shape counts too). */
export function where<SC extends ShapeT, S extends ShapeT, S2 extends ShapeT, D extends DType>(cond: Tensor<SC, 'bool'>, a: Tensor<S, D>, b: Tensor<S2, D>): Tensor<Broadcast<SC, Broadcast<S, S2>>, D> {
  const s = broadcastShapes(broadcastShapes(a.shape, b.shape) ?? [], cond.shape);
  if (!s) throw new DslError(`where: cannot broadcast ${fmtShape(cond.shape)}, ${fmtShape(a.shape)}, ${fmtShape(b.shape)}`, callSite());
  const src = [cond.broadcastTo(s).node, a.broadcastTo(s).node, b.broadcastTo(s).node];
  return new Tensor(a.scope.build(() => Node.make('where', src)), a.scope);
}

/** Rows of a [V, D] table by integer ids, as f32 activations (storage values are exact in f32). */
export function embedding<V extends DimLike, E extends DimLike, S extends ShapeT>(table: Tensor<readonly [V, E], FloatDType>, ids: Tensor<S, 'i32' | 'i64'>): Tensor<readonly [...S, E], 'f32'> {
  const g = new Tensor(table.scope.build(() => Node.make('gather', [table.node, ids.node])), table.scope);
  return g.cast('f32') as never;
}

/** Options of rmsNorm and layerNorm: eps, and optional affine weight and bias. */
export interface NormOptions { eps?: number; weight?: Tensor<any, any>; bias?: Tensor<any, any> }

function affine<S extends ShapeT>(y: Tensor<S, FloatDType>, o: NormOptions): Tensor<S, 'f32'> {
  let out = y.cast('f32') as Tensor;
  if (o.weight) out = out.mul(o.weight.cast('f32').broadcastTo(out.shape) as never) as Tensor;
  if (o.bias) out = out.add(o.bias.cast('f32').broadcastTo(out.shape) as never) as Tensor;
  return out as never;
}

/** x · rsqrt(mean(x²) + eps) over the last axis, then optional weight and bias (Arctic's norm: no mean subtraction). */
export function rmsNorm<S extends ShapeT>(x: Tensor<S, FloatDType>, o: NormOptions = {}): Tensor<S, 'f32'> {
  const y = new Tensor<S, FloatDType>(x.scope.build(() => Node.make('rms_norm', [x.node], { eps: o.eps ?? RMS_EPS })), x.scope);
  return affine(y, o);
}

/** Layer norm over the last axis (eps, optional weight and bias), computed in f32. */
export function layerNorm<S extends ShapeT>(x: Tensor<S, FloatDType>, o: NormOptions = {}): Tensor<S, 'f32'> {
  const y = new Tensor<S, FloatDType>(x.scope.build(() => Node.make('layer_norm', [x.node], { eps: o.eps ?? 1e-5 })), x.scope);
  return affine(y, o);
}

/**
 * The k-step loop: runs `step` n times at trace time, threading a carry and collecting one output
 * per step, so every step is visible to the compiler (fusion and graph capture see the whole loop).
 */
export function unroll<C, Y>(n: number, init: C, step: (carry: C, i: number) => readonly [C, Y]): { carry: C; ys: Y[] } {
  if (!Number.isInteger(n) || n < 1) throw new DslError(`unroll: step count must be a positive integer, got ${n}`, callSite());
  let carry = init;
  const ys: Y[] = [];
  for (let i = 0; i < n; i++) {
    const [c, y] = step(carry, i);
    carry = c;
    ys.push(y);
  }
  return { carry, ys };
}

/** `scan` is the same loop under the name JAX users expect. */
export const scan = unroll;
