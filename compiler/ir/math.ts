// Reference scalar math in float64 (the interpreter rounds results to f32 on store).
const TWO_OVER_SQRT_PI = 1.1283791670955126;

/** e^(-a²) with a² carried as an exact hi + lo pair (Dekker), so its rounding does not cost up to 2e-15. */
function expNegSq(a: number): number {
  const hi = a * a;
  const c = 134217729 * a, ah = c - (c - a), al = a - ah;
  const lo = ((ah * ah - hi) + 2 * ah * al) + al * al;
  return Math.exp(-hi) * (1 - lo);
}

/**
 * erf to ~1e-15 absolute: below 1.5 the series erf(a) = 2/√π · e^(-a²) · Σ 2ⁿ a^(2n+1) / (1·3·…·(2n+1)),
 * whose terms are all positive (the alternating Taylor series used up to 3 before cancels: its terms reach
 * ~170 near a = 3 and it was 5.8e-14 off there); from 1.5 on, a continued fraction for erfc (120 terms).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 1.5) {
    let term = a, sum = a;
    const x2 = 2 * a * a;
    for (let n = 1; n < 200; n++) {
      term *= x2 / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return Math.sign(x) * TWO_OVER_SQRT_PI * expNegSq(a) * sum;
  }
  if (a > 6) return Math.sign(x);
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), evaluated bottom-up
  let f = a;
  for (let k = 120; k >= 1; k--) f = a + (k / 2) / f;
  const erfc = expNegSq(a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
