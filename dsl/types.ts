// Type-level shape machinery. Dims are literal numbers or names ("B", "D"); a wide `number` or
// `string` dim is unknown to the checker and left to the runtime check.
import type { DType, FloatDType } from '../compiler/ir/dtype.ts';

export type DimLike = number | string;
export type ShapeT = readonly DimLike[];

/** Shown in the compiler's message when a shape cannot work: `{ 'shape error': "..." }`. */
export interface ShapeError<M extends string> { readonly 'shape error': M }
export interface DTypeError<M extends string> { readonly 'dtype error': M }

type IsWide<X> = number extends X ? true : string extends X ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export type Join<S extends ShapeT> = S extends readonly [infer H extends DimLike]
  ? `${H}`
  : S extends readonly [infer H extends DimLike, ...infer R extends ShapeT] ? `${H}, ${Join<R>}` : '...';

type BDim<A, B> = Same<A, B> extends true ? A
  : A extends 1 ? B : B extends 1 ? A
  : IsWide<A> extends true ? B : IsWide<B> extends true ? A : never;

/** Numpy broadcasting, right-aligned; `never` when two known dims disagree. */
export type Broadcast<A extends ShapeT, B extends ShapeT> =
  A extends readonly [] ? B
  : B extends readonly [] ? A
  : A extends readonly [...infer AR extends ShapeT, infer AL]
    ? B extends readonly [...infer BR extends ShapeT, infer BL]
      ? [BDim<AL, BL>] extends [never] ? never
        : [Broadcast<AR, BR>] extends [never] ? never : readonly [...Broadcast<AR, BR>, BDim<AL, BL>]
      : ShapeT
    : ShapeT;

export type CheckBroadcast<A extends ShapeT, B extends ShapeT> =
  [Broadcast<A, B>] extends [never] ? ShapeError<`cannot broadcast [${Join<A>}] with [${Join<B>}]`> : unknown;

/** Mixing two float dtypes computes in f32; anything else must match exactly. */
export type Promote<A extends DType, B extends DType> = Same<A, B> extends true ? A
  : A extends FloatDType ? (B extends FloatDType ? 'f32' : never) : never;

export type CheckPromote<A extends DType, B extends DType> =
  [Promote<A, B>] extends [never] ? DTypeError<`dtype mismatch: ${A} vs ${B} (cast one explicitly)`> : unknown;

export type Last<S extends ShapeT> = S extends readonly [...ShapeT, infer L extends DimLike] ? L : DimLike;
export type Init<S extends ShapeT> = S extends readonly [...infer I extends ShapeT, DimLike] ? I : ShapeT;

type DimOk<A, B> = Same<A, B> extends true ? true : IsWide<A> extends true ? true : IsWide<B> extends true ? true : false;

export type CheckLastDim<S extends ShapeT, K extends DimLike, Op extends string> =
  DimOk<Last<S>, K> extends true ? unknown : ShapeError<`${Op}: input [${Join<S>}] has last dim ${Last<S>}, weight expects ${K}`>;

type BuildTuple<N extends number, Acc extends unknown[] = []> = Acc['length'] extends N ? Acc : BuildTuple<N, [...Acc, unknown]>;

/** Shape with axis A removed (A a literal, -1 for the last axis). */
export type RemoveAxis<S extends ShapeT, A extends number> =
  number extends A ? ShapeT
  : A extends -1 ? Init<S>
  : `${A}` extends `-${string}` ? ShapeT
  : S extends readonly [infer H, ...infer R extends ShapeT]
    ? A extends 0 ? R : BuildTuple<A> extends [unknown, ...infer Rest] ? readonly [H, ...RemoveAxis<R, Rest['length']>] : ShapeT
    : ShapeT;

export type Replace<S extends ShapeT, A extends number, D extends DimLike> =
  number extends A ? ShapeT
  : A extends -1 ? readonly [...Init<S>, D]
  : `${A}` extends `-${string}` ? ShapeT
  : S extends readonly [infer H, ...infer R extends ShapeT]
    ? A extends 0 ? readonly [D, ...R] : BuildTuple<A> extends [unknown, ...infer Rest] ? readonly [H, ...Replace<R, Rest['length'], D>] : ShapeT
    : ShapeT;
