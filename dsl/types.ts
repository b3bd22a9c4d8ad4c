// Type-level shape machinery. Dims are literal numbers or names ("B", "D"); a wide `number` or
// `string` dim is unknown to the checker and left to the runtime check.
import type { DType, FloatDType } from '../compiler/ir/dtype.ts';

/** A dim: a literal size or a name (bound by defineProgram, or symbolic like B). */
export type DimLike = number | string;
/** A shape: a readonly tuple of dims. */
export type ShapeT = readonly DimLike[];

/** Shown in the compiler's message when a shape cannot work: `{ 'shape error': "..." }`. */
export interface ShapeError<M extends string> { readonly 'shape error': M }
/** The type a dtype mismatch produces, so the compiler error names both dtypes. */
export interface DTypeError<M extends string> { readonly 'dtype error': M }

type IsWide<X> = number extends X ? true : string extends X ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export type Join<S extends ShapeT> = S extends readonly [infer H extends DimLike]
  ? `${H}`
  : S extends readonly [infer H extends DimLike, ...infer R extends ShapeT] ? `${H}, ${Join<R>}`
  : S extends readonly [] ? '' : '...';

type BDim<A, B> = Same<A, B> extends true ? A
  : A extends 1 ? B : B extends 1 ? A
  : IsWide<A> extends true ? B : IsWide<B> extends true ? A : never;

/** Numpy broadcasting, right-aligned; `never` when two known dims disagree. */
export type Broadcast<A extends ShapeT, B extends ShapeT> =
  A extends readonly [] ? B
  : B extends readonly [] ? A
  : A extends readonly [...infer AR extends ShapeT, infer AL extends DimLike]
    ? B extends readonly [...infer BR extends ShapeT, infer BL extends DimLike]
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
export type Init<S extends ShapeT> = S extends readonly [...infer I extends ShapeT, DimLike] ? readonly [...I] : ShapeT;

type DimOk<A, B> = Same<A, B> extends true ? true : IsWide<A> extends true ? true : IsWide<B> extends true ? true : false;

export type CheckLastDim<S extends ShapeT, K extends DimLike, Op extends string> =
  DimOk<Last<S>, K> extends true ? unknown : ShapeError<`${Op}: input [${Join<S>}] has last dim ${Last<S>}, weight expects ${K}`>;

type BuildTuple<N extends number, Acc extends unknown[] = []> = Acc['length'] extends N ? Acc : BuildTuple<N, [...Acc, unknown]>;

/**
 * Axis A of S as a non-negative literal (-1 is the last axis, -2 the one before, ...); `number` when A or
 * the rank is unknown to the checker; `never` when A is out of range or not an integer.
 */
export type NormAxis<S extends ShapeT, A extends number> =
  number extends A ? number
  : number extends S['length'] ? number
  : `${A}` extends `-${infer N extends number}`
    ? (`${N}` extends `${bigint}` ? (BuildTuple<S['length']> extends [...BuildTuple<N>, ...infer Rest] ? Rest['length'] : never) : never)
    : `${A}` extends `${bigint}` ? (`${A}` extends keyof S ? A : never) : never;

/** `unknown` when axis A can exist in S, otherwise a readable error (intersected into the axis parameter). */
export type CheckAxis<S extends ShapeT, A extends number> =
  [NormAxis<S, A>] extends [never] ? ShapeError<`axis ${A} out of range for [${Join<S>}]`> : unknown;

type RemoveAt<S extends ShapeT, I extends number> =
  S extends readonly [infer H extends DimLike, ...infer R extends ShapeT]
    ? I extends 0 ? readonly [...R] : BuildTuple<I> extends [unknown, ...infer Rest] ? readonly [H, ...RemoveAt<R, Rest['length']>] : ShapeT
    : ShapeT;
type ReplaceAt<S extends ShapeT, I extends number, D extends DimLike> =
  S extends readonly [infer H extends DimLike, ...infer R extends ShapeT]
    ? I extends 0 ? readonly [D, ...R] : BuildTuple<I> extends [unknown, ...infer Rest] ? readonly [H, ...ReplaceAt<R, Rest['length'], D>] : ShapeT
    : ShapeT;

// (`number extends A` comes first: when TypeScript compares generic methods it erases A to `any`, and this
// keeps both sides of that comparison at ShapeT instead of a union of branches.)
/** Shape with axis A removed (A a literal, negative from the end); ShapeT when unknown or out of range. */
export type RemoveAxis<S extends ShapeT, A extends number> =
  number extends A ? ShapeT
  : S extends unknown
    ? number extends S['length'] ? (A extends -1 ? Init<S> : ShapeT)
      : NormAxis<S, A> extends infer I extends number ? ([I] extends [never] ? ShapeT : RemoveAt<S, I>) : ShapeT
    : never;

/** Shape with axis A's dim replaced by D. */
export type Replace<S extends ShapeT, A extends number, D extends DimLike> =
  number extends A ? ShapeT
  : S extends unknown
    ? number extends S['length'] ? (A extends -1 ? readonly [...Init<S>, D] : ShapeT)
      : NormAxis<S, A> extends infer I extends number ? ([I] extends [never] ? ShapeT : ReplaceAt<S, I, D>) : ShapeT
    : never;

/** The phantom type members of a Tensor (kept structural so this module does not import the class). */
export interface Typed { readonly __shape: ShapeT; readonly __dtype: DType }

/** Same rank and every pair of dims agrees (a wide dim agrees with anything; unknown rank agrees). */
type ShapesAgree<X extends ShapeT, Y extends ShapeT> =
  number extends X['length'] ? true : number extends Y['length'] ? true
  : X extends readonly [infer XH, ...infer XR extends ShapeT]
    ? Y extends readonly [infer YH, ...infer YR extends ShapeT] ? (DimOk<XH, YH> extends true ? ShapesAgree<XR, YR> : false) : false
    : Y extends readonly [] ? true : false;
type DTypesAgree<X, Y> = [X] extends [Y] ? true : [Y] extends [X] ? true : false;
type Outside<S extends ShapeT, A extends number | null> = A extends number ? Replace<S, A, '*'> : S;

type PairCheck<X extends Typed, F extends Typed, A extends number | null, Op extends string> =
  DTypesAgree<X['__dtype'], F['__dtype']> extends false ? DTypeError<`${Op}: dtype ${F['__dtype']} vs ${X['__dtype']} (cast one explicitly)`>
  : ShapesAgree<Outside<X['__shape'], A>, Outside<F['__shape'], A>> extends true ? true
  : ShapeError<`${Op}: [${Join<F['__shape']>}] and [${Join<X['__shape']>}] differ${A extends number ? ` outside axis ${A}` : ''}`>;

/**
 * Tensors that must agree with the first one: in dtype, and in shape outside axis A (every axis when A is
 * null). `unknown` when they do, otherwise the first disagreement as a readable error.
 */
export type CheckAgree<T extends readonly Typed[], A extends number | null, Op extends string> =
  Exclude<{ [I in keyof T]: T[I] extends Typed ? PairCheck<T[I], T[0], A, Op> : true }[number], true> extends infer E
    ? [E] extends [never] ? unknown : E
    : never;
