// Storage conversions and reference math against exhaustive enumeration, brute force and high precision.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { erf, geluErf, geluTanh, sigmoid } from '../../../compiler/ir/math.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32ToFp8e4m3, fp8e4m3ToF32, roundTo } from '../../../compiler/ir/numerics.ts';
import { hostTensor, reader, writer } from '../../../compiler/ir/tensor-data.ts';

// f32 bit views
const F = new Float32Array(1);
const U = new Uint32Array(F.buffer);
const fromBits = (b: number): number => { U[0] = b >>> 0; return F[0]; };
const toBits = (x: number): number => { F[0] = x; return U[0]; };

/** A deterministic stream of random 32-bit patterns (xorshift32), so failures reproduce. */
function* randomBits(n: number, seed = 0x9e3779b9): Generator<number> {
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    yield s;
  }
}

const isBf16NaN = (b: number): boolean => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
const isF16NaN = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('bf16', () => {
  it('every bit pattern → f32 → bf16 is the identity, except that signalling NaNs come back quiet', () => {
    let nans = 0;
    for (let b = 0; b < 0x10000; b++) {
      const back = f32ToBf16(bf16ToF32(b));
      if (isBf16NaN(b)) {
        nans++;
        expect(isBf16NaN(back)).toBe(true);
        expect(back & 0x8000).toBe(b & 0x8000); // same sign
        expect(back & 0x40).toBe(0x40); // quiet
      } else if (back !== b) {
        expect.fail(`bf16 0x${b.toString(16)} came back as 0x${back.toString(16)}`);
      }
    }
    expect(nans).toBe(2 * 127);
  });

  it('bf16 → f32 is the upper half of the f32 pattern', () => {
    for (let b = 0; b < 0x10000; b++) {
      if (isBf16NaN(b)) continue;
      expect(toBits(bf16ToF32(b))).toBe((b << 16) >>> 0);
    }
  });

  it('f32 → bf16 rounds ties to even', () => {
    // pattern with low half exactly 0x8000 is a tie: round up only when the kept bit is odd
    expect(f32ToBf16(fromBits(0x3f808000))).toBe(0x3f80); // 1 + 2^-8 → 1
    expect(f32ToBf16(fromBits(0x3f818000))).toBe(0x3f82); // 1 + 3·2^-8 → 1 + 2^-6
    expect(f32ToBf16(fromBits(0xbf808000))).toBe(0xbf80);
    expect(f32ToBf16(fromBits(0x3f808001))).toBe(0x3f81); // just above the tie
    expect(f32ToBf16(fromBits(0x3f807fff))).toBe(0x3f80); // just below
    expect(f32ToBf16(fromBits(0x7f7f8000))).toBe(0x7f80); // tie at the top rounds to even = +inf
    expect(f32ToBf16(fromBits(0x00008000))).toBe(0x0000); // subnormal tie → 0
    expect(f32ToBf16(fromBits(0x00018000))).toBe(0x0002); // subnormal tie, odd → up
    expect(f32ToBf16(Infinity)).toBe(0x7f80);
    expect(f32ToBf16(-Infinity)).toBe(0xff80);
    expect(isBf16NaN(f32ToBf16(NaN))).toBe(true);
    expect(isBf16NaN(f32ToBf16(fromBits(0x7f800001)))).toBe(true); // a NaN whose payload is below bit 16 stays NaN
  });

  it('f32 → bf16 equals the nearest-even of the two neighbours, on random f32 patterns', () => {
    for (const b of randomBits(200_000)) {
      const x = fromBits(b);
      if (Number.isNaN(x)) continue;
      const lo = b >>> 16, hi = lo + 1; // truncation and the next pattern up (in magnitude)
      // IEEE rounding treats the step above the largest finite value as if 2^128 existed: inf beyond the half-way point
      const vLo = Math.abs(bf16ToF32(lo)), vHi = (hi & 0x7fff) === 0x7f80 ? 2 ** 128 : Math.abs(bf16ToF32(hi & 0xffff));
      const a = Math.abs(x);
      const dl = a - vLo, dh = vHi - a;
      const want = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
      const got = f32ToBf16(x);
      if (got !== (want & 0xffff)) expect.fail(`f32 0x${b.toString(16)} (${x}): got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
    }
  });
});

describe('f16', () => {
  it('every bit pattern → f32 → f16 is the identity, except NaN payloads (canonical quiet NaN)', () => {
    let nans = 0;
    for (let h = 0; h < 0x10000; h++) {
      const back = f32ToF16(f16ToF32(h));
      if (isF16NaN(h)) { nans++; expect(isF16NaN(back)).toBe(true); continue; }
      if (back !== h) expect.fail(`f16 0x${h.toString(16)} came back as 0x${back.toString(16)}`);
    }
    expect(nans).toBe(2 * 1023);
  });

  it('f16 → f32 decodes every pattern like the platform Float16Array', () => {
    const F16 = (globalThis as unknown as { Float16Array?: new (b: ArrayBuffer) => ArrayLike<number> }).Float16Array;
    if (!F16) return; // Node 24 has it; nothing to compare against otherwise
    const u16 = new Uint16Array(0x10000).map((_, i) => i);
    const f16 = new F16(u16.buffer);
    for (let h = 0; h < 0x10000; h++) {
      const want = f16[h];
      const got = f16ToF32(h);
      if (!Object.is(got, want) && !(Number.isNaN(got) && Number.isNaN(want))) expect.fail(`0x${h.toString(16)}: ${got} vs ${want}`);
    }
  });

  it('f32 → f16 matches Math.f16round (round to nearest even, overflow to inf) on random f32 patterns', () => {
    const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round;
    if (!f16round) return;
    for (const b of randomBits(200_000, 12345)) {
      // spread the exponents around the f16 range: keep sign and mantissa, exponent in [127-30, 127+17]
      const e = 97 + ((b >>> 23) & 0xff) % 48;
      const x = fromBits((b & 0x807fffff) | (e << 23));
      const got = f16ToF32(f32ToF16(x));
      const want = f16round(x);
      if (!Object.is(got, want)) expect.fail(`f32 0x${toBits(x).toString(16)} (${x}): ${got} vs f16round ${want}`);
    }
  });

  it('f32 → f16 subnormals and ties', () => {
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie → even 0
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // tie → even 2
    expect(f32ToF16(2047 * 2 ** -25)).toBe(0x0400); // largest subnormal + half → smallest normal
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(-65519.99)).toBe(0xfbff);
    expect(f32ToF16(-0)).toBe(0x8000);
  });
});

describe('fp8 e4m3', () => {
  /** Independent decode: sign · 2^(e-7) · (1 + m/8), subnormal 2^-6 · m/8, S.1111.111 is NaN. */
  const decode = (v: number): number => {
    const s = v & 0x80 ? -1 : 1, e = (v >> 3) & 15, m = v & 7;
    if (e === 15 && m === 7) return NaN;
    return s * (e === 0 ? 2 ** -6 * (m / 8) : 2 ** (e - 7) * (1 + m / 8));
  };

  it('all 256 patterns decode as e4m3fn and round-trip (both NaNs map to 0x7f)', () => {
    for (let v = 0; v < 256; v++) {
      const x = fp8e4m3ToF32(v);
      const want = decode(v);
      expect(Object.is(x, want) || (Number.isNaN(x) && Number.isNaN(want)), `0x${v.toString(16)}`).toBe(true);
      expect(f32ToFp8e4m3(x)).toBe((v & 0x7f) === 0x7f ? 0x7f : v);
    }
    expect(fp8e4m3ToF32(0x7e)).toBe(448);
    expect(fp8e4m3ToF32(0x01)).toBe(2 ** -9);
    expect(fp8e4m3ToF32(0x08)).toBe(2 ** -6);
  });

  it('the packing facts checked on the H200 (ptx-and-driver.md §2.1)', () => {
    expect(f32ToFp8e4m3(1.5)).toBe(0x3c);
    expect(f32ToFp8e4m3(-0.3)).toBe(0xaa);
    expect(fp8e4m3ToF32(0xaa)).toBe(-0.3125);
    expect(f32ToFp8e4m3(1000)).toBe(0x7e); // satfinite → 448
    expect(f32ToFp8e4m3(-1000)).toBe(0xfe); // → -448
    // cvt.rn.satfinite.e4m3x2.f32 d, a, b puts a in the high byte: (a, b) = (-0.3, 1.5) → 0xAA3C
    expect((f32ToFp8e4m3(-0.3) << 8) | f32ToFp8e4m3(1.5)).toBe(0xaa3c);
    // and (1000, -1000) → 0xFE7E read as (b, a) = (-1000, 1000) → high 0xFE, low 0x7E
    expect((f32ToFp8e4m3(-1000) << 8) | f32ToFp8e4m3(1000)).toBe(0xfe7e);
  });

  it('matches a brute-force nearest search (ties to the even code, saturating) on 100k random f32', () => {
    const finite = Array.from({ length: 127 }, (_, i) => decode(i)); // 0x00 … 0x7e, increasing
    const brute = (x: number): number => {
      const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
      const a = Math.abs(x);
      if (a >= 448) return sign | 0x7e;
      let best = 0, bestD = Infinity;
      for (let c = 0; c < 127; c++) {
        const d = Math.abs(finite[c] - a);
        if (d < bestD || (d === bestD && (c & 1) === 0)) { best = c; bestD = d; }
      }
      return sign | best;
    };
    let n = 0;
    for (const b of randomBits(100_000, 777)) {
      // exponents across and around e4m3's range [2^-10, 2^9], plus raw patterns every 8th sample
      const x = n++ % 8 === 0 ? fromBits(b) : fromBits((b & 0x807fffff) | ((117 + ((b >>> 23) & 0xff) % 22) << 23));
      if (Number.isNaN(x)) { expect(f32ToFp8e4m3(x)).toBe(0x7f); continue; }
      const got = f32ToFp8e4m3(x), want = brute(x);
      if (got !== want) expect.fail(`f32 0x${toBits(x).toString(16)} (${x}): got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
    }
    // every exact midpoint between neighbouring codes goes to the even one
    for (let c = 0; c < 126; c++) {
      const mid = (finite[c] + finite[c + 1]) / 2;
      expect(f32ToFp8e4m3(mid)).toBe(c & 1 ? c + 1 : c);
      expect(f32ToFp8e4m3(-mid)).toBe(0x80 | (c & 1 ? c + 1 : c));
    }
  });

  it('saturates ±inf and everything ≥ 448 in magnitude', () => {
    expect(f32ToFp8e4m3(Infinity)).toBe(0x7e);
    expect(f32ToFp8e4m3(-Infinity)).toBe(0xfe);
    expect(f32ToFp8e4m3(464)).toBe(0x7e);
    expect(f32ToFp8e4m3(3.4e38)).toBe(0x7e);
    expect(f32ToFp8e4m3(447)).toBe(0x7e); // 447 is nearer 448 than 416
    expect(f32ToFp8e4m3(432)).toBe(0x7e); // midpoint of 416 (0x7d, odd) and 448 (0x7e) → even
  });
});

describe('roundTo and the host tensor writers', () => {
  it('roundTo agrees with encode/decode per dtype', () => {
    fc.assert(fc.property(fc.float({ noNaN: true }), (x) => {
      expect(roundTo('f32', x)).toBe(Math.fround(x));
      expect(Object.is(roundTo('bf16', x), bf16ToF32(f32ToBf16(x)))).toBe(true);
      expect(Object.is(roundTo('f16', x), f16ToF32(f32ToF16(x)))).toBe(true);
      expect(Object.is(roundTo('fp8e4m3', x), fp8e4m3ToF32(f32ToFp8e4m3(x)))).toBe(true);
    }), { numRuns: 2000 });
  });

  it('writer then reader gives roundTo for every float storage dtype', () => {
    for (const dt of ['f32', 'bf16', 'f16', 'fp8e4m3'] as const) {
      const xs = [0.1, -2.5, 1e-8, 70000, 1000, -0];
      const t = hostTensor(dt, [xs.length]);
      const w = writer(t), r = reader(t);
      xs.forEach((x, i) => w(i, x));
      xs.forEach((x, i) => expect(Object.is(r(i), roundTo(dt, x)), `${dt} ${x}`).toBe(true));
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// erf against an independent high-precision reference: the Taylor series in 256-bit fixed point with
// BigInt, 2/√π to 45 digits, converted to a double with one correct rounding.

const P = 256n;
const ONE = 1n << P;
const TWO_OVER_SQRT_PI = (BigInt('1128379167095512573896158903121545171688101258658') << P) / 10n ** 48n;

function exactFixed(x: number): bigint {
  // x = m · 2^e exactly, with m an integer < 2^53
  let m = Math.abs(x), e = 0;
  while (!Number.isInteger(m)) { m *= 2; e--; }
  const v = e >= 0 ? (BigInt(m) << BigInt(e)) << P : (BigInt(m) << P) >> BigInt(-e);
  return x < 0 ? -v : v;
}
function erfReference(x: number): number {
  const X = exactFixed(x), X2 = (X * X) >> P;
  let term = X, sum = X; // term_n = (-1)^n x^(2n+1) / n!
  for (let n = 1n; ; n++) {
    term = -((term * X2) >> P) / n;
    const t = term / (2n * n + 1n);
    if (t === 0n) break;
    sum += t;
  }
  return Number((sum * TWO_OVER_SQRT_PI) >> P) / 2 ** 256;
}

describe('erf', () => {
  it('the reference itself reproduces tabulated values', () => {
    // erf to 30 digits: 0.1 → 0.112462916018284892203275071744, 1 → 0.842700792949714869341220635083,
    // 2 → 0.995322265018952734162069256367, 3.5 → 0.999999256901627658587254476316
    expect(erfReference(0.1)).toBe(0.1124629160182849);
    expect(erfReference(1)).toBe(0.8427007929497149);
    expect(erfReference(2)).toBe(0.9953222650189527);
    expect(erfReference(3.5)).toBe(0.9999992569016276);
  });

  it('tabulated values to ≤ 1e-15', () => {
    const table: [number, number][] = [
      [0.1, 0.112462916018284892203], [0.5, 0.520499877813046537683], [1, 0.842700792949714869341],
      [1.5, 0.966105146475310727067], [2, 0.995322265018952734162], [2.5, 0.999593047982555041060],
      [3, 0.999977909503001414559], [3.5, 0.999999256901627658587], [4, 0.999999984582742099720],
      [5, 0.999999999998462540206],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThanOrEqual(1e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
  });

  it('within 1e-14 of the 256-bit reference at 4000 points over [-7, 7] (and 1e-14 relative below 1)', () => {
    let worst = 0, at = 0;
    const xs: number[] = [];
    for (let i = 0; i <= 3000; i++) xs.push(-7 + (14 * i) / 3000);
    for (const b of randomBits(1000, 4242)) xs.push(((b / 2 ** 32) * 2 - 1) * 7);
    // around the switch between series and continued fraction, and the clamp at 6
    xs.push(1.4999999999999998, 1.5, 1.5000000000000002, 2.9999999999999996, 3, 5.999999999999999, 6, 6.000000000000001);
    for (const x of xs) {
      const ref = erfReference(x), got = erf(x);
      const err = Math.abs(got - ref);
      if (err > worst) { worst = err; at = x; }
      if (Math.abs(x) < 1 && x !== 0) expect(err / Math.abs(ref), `relative error at ${x}`).toBeLessThanOrEqual(1e-14);
    }
    expect(worst, `worst absolute error ${worst} at x = ${at}`).toBeLessThanOrEqual(1e-14);
  });

  it('tiny, zero, infinite and NaN arguments', () => {
    expect(erf(0)).toBe(0);
    expect(Object.is(erf(-0), -0)).toBe(true);
    for (const x of [1e-300, 1e-20, 1e-10, 2 ** -1074]) {
      // erf(x) = 2x/√π (1 - x²/3 + …): the correction is below an ulp
      expect(erf(x)).toBe(1.1283791670955126 * x);
    }
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(1e300)).toBe(1);
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });

  it('gelu (both forms) and sigmoid at reference points', () => {
    // x·Φ(x) computed from the reference erf; the tanh form's values from 40-digit arithmetic
    for (const x of [-5, -3, -1, -0.5, 0.5, 1, 3, 5]) {
      const want = 0.5 * x * (1 + erfReference(x / Math.SQRT2));
      expect(Math.abs(geluErf(x) - want)).toBeLessThanOrEqual(1e-14 * Math.max(1, Math.abs(x)));
    }
    expect(geluTanh(1)).toBeCloseTo(0.8411919906082767, 14);
    expect(geluTanh(-3)).toBeCloseTo(-0.003637392081773019, 14);
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(2)).toBeCloseTo(0.8807970779778824, 14);
    expect(sigmoid(-800)).toBe(0);
  });
});
