// The transcendental recipes, evaluated with f32 rounding per instruction (f32-model.ts), against the
// float64 references: the error bounds quoted in math-recipes.ts, and the special values. On hardware
// add the MUFU error (ex2.approx.f32 ~2 ulp) wherever exp appears.
import { describe, expect, it } from 'vitest';
import { erf, geluErf, geluTanh, sigmoid } from '../../../compiler/ir/math.ts';
import * as R from '../../../compiler/codegen/ptx/math-recipes.ts';
import { f32Model as o, ulpError } from './f32-model.ts';

/** erfc in float64 without cancellation: continued fraction in the tail. */
function erfc(x: number): number {
  if (x < 2.5) return 1 - erf(x);
  let f = x;
  for (let k = 200; k >= 1; k--) f = x + (k / 2) / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

function maxError(f: (x: number) => number, ref: (x: number) => number, lo: number, hi: number, n = 50_000, log = false): { ulp: number; abs: number } {
  let ulp = 0, abs = 0;
  for (let i = 0; i <= n; i++) {
    const x = Math.fround(log ? lo * (hi / lo) ** (i / n) : lo + ((hi - lo) * i) / n);
    const got = f(x), want = ref(x);
    if (Math.abs(want) < 1e-30) continue;
    ulp = Math.max(ulp, ulpError(got, want));
    abs = Math.max(abs, Math.abs(got - want));
  }
  return { ulp, abs };
}

describe('error bounds (f32 arithmetic, exact MUFU)', () => {
  it.each([
    ['exp', (x: number) => R.expF(o, x), Math.exp, -87, 88, 2],
    ['log', (x: number) => R.logF(o, x), Math.log, 0.5, 2, 3],
    ['erf', (x: number) => R.erfF(o, x), erf, -6, 6, 2.5],
    ['erfc', (x: number) => R.erfcF(o, x), erfc, 1, 9, 6],
    ['tanh', (x: number) => R.tanhF(o, x), Math.tanh, -10, 10, 2],
    ['sigmoid', (x: number) => R.sigmoidF(o, x), sigmoid, -80, 80, 3],
    ['rsqrt', (x: number) => R.rsqrtF(o, x), (x: number) => 1 / Math.sqrt(x), 1e-3, 1e3, 1.5],
  ] as const)('%s: ≤ %d ulp on [%d, %d]', (_, f, ref, lo, hi, bound) => {
    expect(maxError(f, ref, lo, hi).ulp).toBeLessThanOrEqual(bound);
  });

  it('log stays within 2.5 ulp over 60 decades', () => {
    expect(maxError((x) => R.logF(o, x), Math.log, 1e-30, 1e30, 50_000, true).ulp).toBeLessThanOrEqual(2.5);
  });

  it('erf is within 1.3e-7 absolute and GELU within 5e-7·max(1, |x|)', () => {
    expect(maxError((x) => R.erfF(o, x), erf, -8, 8).abs).toBeLessThan(1.3e-7);
    const exact = (x: number): number => 0.5 * x * erfc(-x / Math.SQRT2);
    expect(maxError((x) => R.geluErfF(o, x) / Math.max(1, Math.abs(x)), (x) => exact(x) / Math.max(1, Math.abs(x)), -12, 12).abs).toBeLessThan(5e-7);
    expect(maxError((x) => R.geluTanhF(o, x) / Math.max(1, Math.abs(x)), (x) => geluTanh(x) / Math.max(1, Math.abs(x)), -12, 12).abs).toBeLessThan(5e-7);
    // the interpreter's erf GELU itself loses the far negative tail (1 + erf cancels); ours keeps it
    expect(R.geluErfF(o, -8)).toBeLessThan(0);
    expect(geluErf(-8)).toBeCloseTo(0, 12);
  });
});

describe('special values', () => {
  const cases: [string, (x: number) => number, number[]][] = [
    ['exp', (x) => R.expF(o, x), [NaN, Infinity, 0, 1, 1]],
    ['log', (x) => R.logF(o, x), [NaN, Infinity, NaN, -Infinity, -Infinity]],
    ['erf', (x) => R.erfF(o, x), [NaN, 1, -1, 0, -0]],
    ['erfc', (x) => R.erfcF(o, x), [NaN, 0, 2, 1, 1]],
    ['tanh', (x) => R.tanhF(o, x), [NaN, 1, -1, 0, -0]],
    ['sigmoid', (x) => R.sigmoidF(o, x), [NaN, 1, 0, 0.5, 0.5]],
    ['gelu', (x) => R.geluErfF(o, x), [NaN, Infinity, NaN, 0, -0]],
  ];
  it.each(cases)('%s at NaN, +inf, -inf, +0, -0', (_, f, want) => {
    expect([NaN, Infinity, -Infinity, 0, -0].map(f)).toEqual(want);
  });

  it('exp overflows to inf and underflows to 0 without NaN', () => {
    for (const x of [88.8, 100, 1e6, 3e38]) expect(R.expF(o, x)).toBe(Infinity);
    for (const x of [-104, -1e6, -3e38]) expect(R.expF(o, x)).toBe(0);
  });
});
