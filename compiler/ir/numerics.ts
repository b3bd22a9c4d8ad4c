// Exact storage roundings (round to nearest, ties to even) between f32 and the narrow float formats.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff; // quiet NaN
  const rounded = b + 0x7fff + ((b >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++;
  if (r === 0x400) { r = 0; e++; if (e >= 31) return sign | 0x7c00; }
  return sign | (e << 10) | r;
}

/** e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; 0x7f/0xff are NaN; max 448. */
export function fp8e4m3ToF32(v: number): number {
  const s = v & 0x80 ? -1 : 1;
  const e = (v >>> 3) & 0xf;
  const m = v & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * m * 2 ** -9;
  return s * (1 + m / 8) * 2 ** (e - 7);
}

const FP8_TABLE = Float64Array.from({ length: 128 }, (_, i) => fp8e4m3ToF32(i));

/** Round to nearest even with saturation to ±448 (the PTX `cvt.rn.satfinite.e4m3x2.f32` behaviour). */
export function f32ToFp8e4m3(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(Math.fround(x));
  if (a >= 448) return sign | 0x7e;
  // binary search over the 127 finite non-negative codes (monotone in value)
  let lo = 0, hi = 126;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (FP8_TABLE[mid] <= a) lo = mid; else hi = mid;
  }
  const dl = a - FP8_TABLE[lo], dh = FP8_TABLE[hi] - a;
  const code = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
  return sign | code;
}

/** Round a JS number to the value the given float storage type would hold. */
export function roundTo(dtype: 'f32' | 'f16' | 'bf16' | 'fp8e4m3', x: number): number {
  switch (dtype) {
    case 'f32': return Math.fround(x);
    case 'bf16': return bf16ToF32(f32ToBf16(x));
    case 'f16': return f16ToF32(f32ToF16(x));
    case 'fp8e4m3': return fp8e4m3ToF32(f32ToFp8e4m3(x));
  }
}
