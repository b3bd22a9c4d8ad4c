// Decoder ops (docs/targets.md): the KV-cache write, attention over each row's slot, and RoPE from
// cos/sin tables. Tokens are rows; slots and positions are i32 data, a negative position marks padding.
import type { DType, FloatDType } from '../compiler/ir/dtype.ts';
import { Node } from '../compiler/ir/node.ts';
import { fmtShape } from '../compiler/ir/shape.ts';
import { concat } from './functional.ts';
import { callSite, DslError } from './scope.ts';
import { Tensor } from './tensor.ts';
import type { DimLike } from './types.ts';

type Rows<N extends DimLike> = Tensor<readonly [N], 'i32'>;
type Cache<S extends DimLike, L extends DimLike, K extends DimLike, D extends DimLike, C extends DType> = Tensor<readonly [S, L, K, D], C>;

function build<T extends Tensor<any, any>>(like: Tensor<any, any>, what: string, make: () => Node): T {
  try {
    return new Tensor(like.scope.build(make), like.scope) as T;
  } catch (e) {
    if (e instanceof DslError) throw e;
    throw new DslError(`${what}: ${(e as Error).message}`, callSite());
  }
}

/**
 * The cache with row n of `rows` stored at [slots[n], positions[n]] (cast to the cache dtype); rows at a
 * negative position write nothing. Functional: use the result, not `cache`, afterwards. When `cache` is a
 * program input read by nothing else, the compiler updates it in place (buffer donation).
 */
export function kvWrite<S extends DimLike, L extends DimLike, K extends DimLike, D extends DimLike, C extends FloatDType, N extends DimLike>(
  cache: Cache<S, L, K, D, C>, rows: Tensor<readonly [N, K, D], FloatDType>, slots: Rows<N>, positions: Rows<N>,
): Cache<S, L, K, D, C> {
  return build(cache, 'kvWrite', () => Node.make('kv_write', [cache.node, rows.node, slots.node, positions.node]));
}

/**
 * Scaled dot-product attention of each row's query heads over positions 0…positions[n] of its slot
 * (causal and length masks at once); query head h reads KV head h / (Hq / Hkv). Padding rows give zeros.
 */
export function attention<N extends DimLike, H extends DimLike, D extends DimLike, S extends DimLike, L extends DimLike, K extends DimLike>(
  q: Tensor<readonly [N, H, D], FloatDType>, k: Cache<S, L, K, D, FloatDType>, v: Cache<S, L, K, D, FloatDType>,
  slots: Rows<N>, positions: Rows<N>, o: { scale: number },
): Tensor<readonly [N, H, D], 'f32'> {
  return build(q, 'attention', () => Node.make('attention', [q.node, k.node, v.node, slots.node, positions.node], { scale: o.scale }));
}

/**
 * Rotary embedding with Hugging Face's rotate_half layout: x [N, heads, D] at the rows' positions, with
 * cos/sin tables [Lmax, D/2] (already scaled). out = x·cos + rotate_half(x)·sin.
 */
export function rope<N extends DimLike, H extends DimLike, D extends DimLike>(
  x: Tensor<readonly [N, H, D], 'f32'>, positions: Rows<N>, cos: Tensor<readonly [DimLike, DimLike], 'f32'>, sin: Tensor<readonly [DimLike, DimLike], 'f32'>,
): Tensor<readonly [N, H, D], 'f32'> {
  const [n, h, d] = x.shape;
  if (typeof d !== 'number' || d % 2 !== 0) throw new DslError(`rope: head dim must be an even size, got ${fmtShape(x.shape)}`, callSite());
  if (cos.shape[1] !== d / 2 || sin.shape[1] !== d / 2) throw new DslError(`rope: tables must be [L, ${d / 2}], got ${fmtShape(cos.shape)} and ${fmtShape(sin.shape)}`, callSite());
  const half = d / 2;
  // rows of the tables at each position (clamped to 0 for padding rows, whose values are never used)
  const at = positions.maximum(0);
  // untyped inside: the signature above carries the shapes
  type T = Tensor<any, any>;
  const pick = (t: T): T =>
    (build(t, 'rope', () => Node.make('gather', [t.node, at.node])) as T).reshape([n, 1, half]).broadcastTo([n, h, half]);
  const c = pick(cos), s = pick(sin);
  const xx = x as T;
  const x1 = xx.slice(-1, 0, half, half) as T;
  const x2 = xx.slice(-1, half, d, half) as T;
  const lo = x1.mul(c).sub(x2.mul(s));
  const hi = x2.mul(c).add(x1.mul(s));
  return concat([lo, hi] as T[], -1, d) as never;
}
