// The op → instruction table for elementwise ops, by register class. Simple ops are one template;
// transcendental ones are recipes (math-recipes.ts). Integer ops follow the interpreter: i32 wraps
// (add/sub/mul.lo are modulo 2^32), division truncates toward zero (div.s32/.s64). Float max/min
// propagate NaN (.NaN), float compares are ordered (NaN compares false), like JS.
//
// Numerics against the interpreter (float64, rounded once per node):
//   bit-exact: movement, gather, where, compares, casts (float→int truncates and saturates as cvt.rzi,
//     int→float and float→narrow round through f32 as the interpreter's writer), neg/abs/max/min, and
//     add/sub/mul/div/sqrt/recip (.rn: one correctly rounded f32 op, no fma contraction); argmax/top-k
//     indices and reduce_max values (same ordering rule: NaN largest, ties to the lowest index).
//   rsqrt: sqrt.rn then rcp.rn, ≤ 1.5 ulp. exp ≤ 2 ulp + ex2.approx's ~2; log ≤ 3 ulp (lg2.approx
//     away from 1); tanh ≤ 2 ulp + exp's; sigmoid ≤ 3 ulp + exp's; erf ≤ 1.3e-7 absolute; GELU
//     ≤ 5e-7·max(1, |x|) absolute (both forms). Measured in tests/unit/codegen/math-recipes.test.ts.
//   sum, norms, softmax, linear, matmul: f32 accumulation in a fixed order (per thread, then warp
//     butterfly, then warps in order): deterministic run to run, ~K·2^-24·Σ|terms| from float64.
//   linear at ≥ 5 rows with bf16 or e4m3 weights and f32 x (kernel-linear-tc.ts, mma.sync bf16; e4m3
//     widened to bf16 exactly through f16 and f32, all 256 codes checked in sim-linear-tc): x enters the
//     tensor cores as three bf16 terms hi + mid + lo (≤ 2^-27·|x| left out, finer than f32's 2^-24),
//     weights are exact, products exact, f32 accumulation (tensor-core internal order): within the
//     same f32 accumulation error as the GEMV, not bit-identical to it. (Single-term tf32 would round x
//     to 2^-11, bf16 to 2^-9.)
//   argmax(linear(x, w), -1) fused (argmax-partials.ts): the argmax of the logits the linear computes,
//     by the interpreter's rule (NaN largest, ties → lowest index): a total order, so the per-block
//     partials and their reduction pick the same element as a scan of those logits. A scaled (fp8) head,
//     argmax(mul(linear(x, w), broadcast(scale[N])), -1), multiplies each column's f32 sum by its scale
//     with one mul.rn.f32 first: the interpreter's separate mul, bit for bit, then the same rule.
//   argmax {epilogue = "certified"} (lm-head-certify, docs/certified-argmax.md; B ≥ 5): the logits with x rounded to
//     one bf16 term, a proven bound on their error, the 8 candidates it leaves recomputed with f32 FMAs (the GEMV's
//     contract), the three-term kernel for rows it cannot settle: the interpreter's token whenever the exact path's is.
//   topk_values / topk_indices {k} of those logits fused (lm-head-topk; argmax-partials.ts, kernel-topk-reduce.ts):
//     k rounds of the same order, each taking the first pair strictly after the last round's winner: the
//     interpreter's sorted order (NaN largest, ties → lowest index) of the logits the linear computes.
//   Known differences: i64 arithmetic wraps modulo 2^64 where the interpreter (float64, saturating store)
//     saturates or loses bits past 2^53; sums of squares past 3.4e38 overflow f32 (norms of |x| > 1.8e19);
//     integer division by zero gives an undefined value (the interpreter throws); i64 → f32 rounds once
//     (the interpreter rounds through float64 first); top-k over a symbolic row shorter than k gives
//     NaN / index 0 for the missing ranks. On bf16/f16/fp8 nodes an approximate op may round to the
//     neighbouring narrow value (one narrow ulp).
import type { DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/node.ts';
import type { Op } from '../../ir/ops.ts';
import type { PtxBuilder, RegType } from './builder.ts';
import { emitCast, emitRound, regTypeOf } from './legalize.ts';
import type { MathOps } from './math-recipes.ts';
import { erfF, expF, geluErfF, geluTanhF, logF, rsqrtF, sigmoidF, tanhF } from './math-recipes.ts';
import { ptxMathOps } from './ptx-math-ops.ts';

type Table = Partial<Record<RegType, string>>;

export const BINARY_ISA: Partial<Record<Op, Table>> = {
  add: { f32: 'add.rn.f32', s32: 'add.s32', s64: 'add.s64' },
  sub: { f32: 'sub.rn.f32', s32: 'sub.s32', s64: 'sub.s64' },
  mul: { f32: 'mul.rn.f32', s32: 'mul.lo.s32', s64: 'mul.lo.s64' },
  div: { f32: 'div.rn.f32', s32: 'div.s32', s64: 'div.s64' },
  max: { f32: 'max.NaN.f32', s32: 'max.s32', s64: 'max.s64' },
  min: { f32: 'min.NaN.f32', s32: 'min.s32', s64: 'min.s64' },
};

export const CMP_ISA: Partial<Record<Op, Table>> = {
  cmplt: { f32: 'setp.lt.f32', s32: 'setp.lt.s32', s64: 'setp.lt.s64' },
  cmpeq: { f32: 'setp.eq.f32', s32: 'setp.eq.s32', s64: 'setp.eq.s64' },
};

export const UNARY_ISA: Partial<Record<Op, Table>> = {
  neg: { f32: 'neg.f32', s32: 'neg.s32', s64: 'neg.s64' },
  abs: { f32: 'abs.f32', s32: 'abs.s32', s64: 'abs.s64' },
  sqrt: { f32: 'sqrt.rn.f32' },
  recip: { f32: 'rcp.rn.f32' },
};

type Recipe = (o: MathOps<string, string>, x: string) => string;
export const RECIPES: Partial<Record<Op, Recipe>> = {
  exp: expF, log: logF, tanh: tanhF, erf: erfF, sigmoid: sigmoidF, rsqrt: rsqrtF,
};

function pick(table: Table | undefined, t: RegType, n: Node): string {
  const ins = table?.[t];
  if (!ins) throw new Error(`codegen: no ${t} instruction for ${n}`);
  return ins;
}

/** A where/concat selection on any register class (predicates have no selp: use logic ops). */
export function emitSelect(b: PtxBuilder, t: RegType, cond: string, a: string, c: string): string {
  const d = b.reg(t);
  if (t === 'pred') {
    const x = b.reg('pred'), y = b.reg('pred');
    b.ins('and.pred', x, cond, a);
    b.ins('not.pred', y, cond);
    b.ins('and.pred', y, y, c);
    b.ins('or.pred', d, x, y);
    return d;
  }
  const sfx = t === 'f32' ? 'f32' : t === 's64' || t === 'u64' ? 'b64' : 'b32';
  b.ins(`selp.${sfx}`, d, a, c, cond);
  return d;
}

/** Emit one elementwise node given its operand values (already in their register classes). */
export function emitElementwise(b: PtxBuilder, n: Node, args: readonly string[]): string {
  const srcType: DType = n.src[0].dtype;
  const t = regTypeOf(srcType);
  if (n.op === 'cast') return emitCast(b, srcType, n.dtype, args[0]);
  if (n.op === 'where') return emitSelect(b, regTypeOf(n.dtype), args[0], args[1], args[2]);
  if (n.op === 'cmplt' || n.op === 'cmpeq') {
    const p = b.reg('pred');
    if (t === 'pred') { // bool == bool: not(a xor b)
      b.ins('xor.pred', p, args[0], args[1]);
      b.ins('not.pred', p, p);
    } else b.ins(pick(CMP_ISA[n.op], t, n), p, args[0], args[1]);
    return p;
  }
  let v: string;
  if (n.op === 'gelu') {
    const o = ptxMathOps(b);
    v = n.argOf<string>('approx') === 'tanh' ? geluTanhF(o, args[0]) : geluErfF(o, args[0]);
  } else if (RECIPES[n.op]) v = RECIPES[n.op]!(ptxMathOps(b), args[0]);
  else {
    const table = args.length === 2 ? BINARY_ISA[n.op] : UNARY_ISA[n.op];
    v = b.reg(t);
    b.ins(pick(table, t, n), v, ...args);
  }
  return emitRound(b, n.dtype, v);
}
