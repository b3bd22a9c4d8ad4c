// A CPU model of the PTX f32 instructions the math recipes use: every op rounds to f32; ex2/lg2 are
// modelled as correctly rounded (the hardware adds ~2 ulp, which the GPU tests account for).
import type { MathOps } from '../../../compiler/codegen/ptx/math-recipes.ts';

const f = Math.fround;
const nanMin = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));

export const f32Model: MathOps<number, boolean> = {
  c: (x) => f(x),
  add: (a, b) => f(a + b),
  sub: (a, b) => f(a - b),
  mul: (a, b) => f(a * b),
  // a·b is exact in float64 for f32 operands, so this rounds (nearly) once
  fma: (a, b, c) => f(a * b + c),
  div: (a, b) => f(a / b),
  rcp: (a) => f(1 / a),
  sqrt: (a) => f(Math.sqrt(a)),
  abs: (a) => Math.abs(a),
  neg: (a) => -a,
  min: nanMin,
  ex2: (a) => f(2 ** a),
  lg2: (a) => f(Math.log2(a)),
  lt: (a, b) => a < b,
  ge: (a, b) => a >= b,
  sel: (p, a, b) => (p ? a : b),
  copysign: (mag, sgn) => (sgn < 0 || Object.is(sgn, -0) ? -Math.abs(mag) : Math.abs(mag)),
};

/** Distance in units of the last place of the reference value (as f32). */
export function ulpError(got: number, want: number): number {
  if (Number.isNaN(want)) return Number.isNaN(got) ? 0 : Infinity;
  if (got === want) return 0;
  if (!Number.isFinite(want) || !Number.isFinite(got)) return Infinity;
  const a = Math.abs(f(want));
  const ulp = a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
  return Math.abs(got - want) / ulp;
}
