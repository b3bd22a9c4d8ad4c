// Transcendental functions as straight-line f32 recipes, written once against `MathOps` so the same
// sequence is emitted as PTX (ptx-math-ops.ts) and evaluated on the CPU with f32 rounding in the unit
// tests (which measure the errors quoted here against compiler/ir/math.ts).
// Branch-free: both sides of a range split are computed and `sel` picks one, so no control flow
// appears inside expressions. Polynomial coefficients are least-squares fits on Chebyshev nodes
// (float64, rounded to f32); errors below are measured with ex2/lg2 modelled as correctly rounded,
// so add the hardware error of ex2.approx.f32 (~2 ulp) where exp appears.

export interface MathOps<V, P> {
  c(x: number): V;
  add(a: V, b: V): V;
  sub(a: V, b: V): V;
  mul(a: V, b: V): V;
  /** a·b + c with one rounding */
  fma(a: V, b: V, c: V): V;
  /** correctly rounded (div.rn / rcp.rn / sqrt.rn) */
  div(a: V, b: V): V;
  rcp(a: V): V;
  sqrt(a: V): V;
  abs(a: V): V;
  neg(a: V): V;
  /** min that returns the non-NaN operand (PTX min.f32) */
  min(a: V, b: V): V;
  /** 2^a and log2(a): the approximate MUFU instructions */
  ex2(a: V): V;
  lg2(a: V): V;
  lt(a: V, b: V): P;
  ge(a: V, b: V): P;
  sel(p: P, a: V, b: V): V;
  /** |mag| with the sign of sgn */
  copysign(mag: V, sgn: V): V;
}

const LOG2E = 1.4426950408889634;
const LOG2E_LO = LOG2E - Math.fround(LOG2E);
const LN2 = Math.LN2;

function horner<V, P>(o: MathOps<V, P>, x: V, coeffs: readonly number[]): V {
  let r = o.c(coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) r = o.fma(r, x, o.c(coeffs[i]));
  return r;
}

/**
 * e^x = 2^(x·log2 e). The product is split into yh + yl exactly (fma residual plus the low part of
 * log2 e), so the only errors are ex2's and two roundings: ≤ 2 ulp with exact ex2 (measured), ~4 ulp
 * with ex2.approx, instead of |x|·2^-24 relative from rounding x·log2 e alone (40 ulp at |x| = 80).
 */
export function expF<V, P>(o: MathOps<V, P>, x: V): V {
  const yh = o.mul(x, o.c(LOG2E));
  const yl = o.fma(x, o.c(LOG2E_LO), o.fma(x, o.c(LOG2E), o.neg(yh)));
  const e = o.ex2(yh);
  // 2^yl ≈ 1 + yl·ln2 (for |yh| < 128, |yl| < 2^-16: the next term is below 2^-33, rounding 1 + yl·ln2
  // costs ≤ ½ ulp). A product, not e + e·c, so an overflowing e stays inf. Beyond ±128 (and for ±inf,
  // where yl is NaN, or NaN) e is already inf, 0 or NaN: keep it.
  return o.sel(o.lt(o.abs(yh), o.c(128)), o.mul(e, o.fma(yl, o.c(LN2), o.c(1))), e);
}

/**
 * ln x = lg2(x)·ln 2, except near 1 where lg2.approx's absolute error (~2^-22) would be a large
 * relative error: there ln x = 2·atanh(s), s = (x−1)/(x+1), a series in s² (≤ 3 ulp measured).
 */
export function logF<V, P>(o: MathOps<V, P>, x: V): V {
  const far = o.mul(o.lg2(x), o.c(LN2));
  const s = o.div(o.sub(x, o.c(1)), o.add(x, o.c(1)));
  const near = o.mul(s, horner(o, o.mul(s, s), [2, 2 / 3, 2 / 5, 2 / 7, 2 / 9, 2 / 11]));
  return o.sel(o.lt(o.abs(o.sub(x, o.c(1))), o.c(0.25)), near, far);
}

/** erf(x)/x − C0 over x² on |x| < 1; erf = x·C0 + x³·P(x²), ≤ 2.2 ulp measured. */
const ERF_C0 = 1.1283791670955126;
const ERF_SMALL = [-0.376126379, 0.112837598, -0.0268620476, 0.00520535791, -0.000816957734, 0.0000840662105];
/** erfc(a)·e^{a²} = t·Q(t), t = 1/(1 + a/2), on 1 ≤ a ≤ 10; erfc ≤ 5.2 ulp relative measured. */
const ERFC_BIG = [0.282085031, 0.282364815, 0.243632197, 0.197590739, -0.00310041080, 0.217723846, -0.399192452, 0.216225490, -0.0371039100];

function erfSmall<V, P>(o: MathOps<V, P>, x: V): V {
  const x2 = o.mul(x, x);
  // odd: the sign of x (the sum of -0 and +0 would lose erf(-0) = -0)
  return o.copysign(o.fma(x, o.c(ERF_C0), o.mul(o.mul(x, x2), horner(o, x2, ERF_SMALL))), x);
}

/** erfc(a) for 1 ≤ a (garbage below 1, 0 from 10 up, where erfc < 2.1e-45). */
function erfcBig<V, P>(o: MathOps<V, P>, a: V): V {
  const ac = o.min(a, o.c(10));
  const a2 = o.mul(ac, ac);
  const a2lo = o.fma(ac, ac, o.neg(a2)); // e^{-(a2 + a2lo)} = e^{-a2}·(1 − a2lo): a² exactly
  const t = o.rcp(o.fma(ac, o.c(0.5), o.c(1)));
  const e = expF(o, o.neg(a2));
  const r = o.mul(o.mul(o.fma(e, o.neg(a2lo), e), horner(o, t, ERFC_BIG)), t);
  return o.sel(o.lt(a, o.c(10)), r, o.c(0));
}

/** erf: max abs error ≈ 1 ulp of the result near |x| = 1 (≤ 1.2e-7 absolute everywhere), NaN → NaN. */
export function erfF<V, P>(o: MathOps<V, P>, x: V): V {
  const a = o.abs(x);
  const big = o.copysign(o.sub(o.c(1), erfcBig(o, a)), x);
  return o.sel(o.ge(a, o.c(1)), big, erfSmall(o, x));
}

/** erfc for any x without cancellation for x ≥ 1 (relative error ≤ ~6 ulp there). */
export function erfcF<V, P>(o: MathOps<V, P>, x: V): V {
  const a = o.abs(x);
  const eb = erfcBig(o, a);
  const big = o.sel(o.lt(x, o.c(0)), o.sub(o.c(2), eb), eb);
  return o.sel(o.ge(a, o.c(1)), big, o.sub(o.c(1), erfSmall(o, x)));
}

/** tanh x + x³·P(x²) on |x| < 0.55 (≤ 0.8 ulp), else ±(1 − 2/(e^{2|x|} + 1)) (≤ 1.5 ulp with exact ex2). */
const TANH_SMALL = [-0.333333313, 0.133331537, -0.0539146811, 0.0213338230, -0.00664734468];
export function tanhF<V, P>(o: MathOps<V, P>, x: V): V {
  const a = o.abs(x);
  const x2 = o.mul(x, x);
  const small = o.copysign(o.fma(o.mul(x, x2), horner(o, x2, TANH_SMALL), x), x);
  const e = expF(o, o.add(a, a));
  const big = o.copysign(o.fma(o.c(-2), o.rcp(o.add(e, o.c(1))), o.c(1)), x);
  return o.sel(o.lt(a, o.c(0.55)), small, big);
}

/** σ(x) from e = e^{-|x|} so neither side overflows: 1/(1+e) for x ≥ 0, e/(1+e) below (≤ 2.4 ulp). */
export function sigmoidF<V, P>(o: MathOps<V, P>, x: V): V {
  const e = expF(o, o.neg(o.abs(x)));
  const s = o.rcp(o.add(o.c(1), e));
  return o.sel(o.ge(x, o.c(0)), s, o.mul(e, s));
}

/** GELU, exact form: ½x·erfc(−x/√2) (no cancellation in the negative tail). */
export function geluErfF<V, P>(o: MathOps<V, P>, x: V): V {
  return o.mul(o.mul(o.c(0.5), x), erfcF(o, o.mul(x, o.c(-Math.SQRT1_2))));
}

/** GELU, tanh form: ½x(1 + tanh u) = x·σ(2u), u = √(2/π)(x + 0.044715x³). */
export function geluTanhF<V, P>(o: MathOps<V, P>, x: V): V {
  const x3 = o.mul(o.mul(x, x), x);
  const u = o.mul(o.c(0.7978845608028654), o.fma(o.c(0.044715), x3, x));
  return o.mul(x, sigmoidF(o, o.add(u, u)));
}

/** 1/√x as two correctly rounded steps (≤ 1 ulp); rsqrt.approx would be ~2 ulp. */
export function rsqrtF<V, P>(o: MathOps<V, P>, x: V): V {
  return o.rcp(o.sqrt(x));
}
