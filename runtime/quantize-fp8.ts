// The FP8 weight quantizer behind the fp8-matmul pass: W[N,K] (bf16, f16 or f32) → W.fp8 (e4m3, RNE with
// saturation, as PTX cvt.rn.satfinite.e4m3x2.f32) and W.scale (f32[N], amax of the row / 448, so each row's
// largest weight lands on e4m3's largest finite value). It runs once per load on the 525 MB LM head of an
// 8B target, so the conversion is bit arithmetic on whole rows rather than numerics.ts's table search;
// tests check both agree on every rounding boundary.
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { hostTensor, reader } from '../compiler/ir/tensor-data.ts';
import { fp8e4m3ToF32 } from '../compiler/ir/numerics.ts';

/** e4m3's largest finite magnitude. */
export const FP8_MAX = 448;

const F32_448 = 0x43e00000; // 448.0f
const F32_MIN_NORMAL = 0x3c800000; // 2^-6, e4m3's smallest normal
const REBIAS = (127 - 7) << 3; // f32 exponent bias → e4m3 bias, in (exponent << 3 | mantissa) units
const one = new Float32Array(1);
const oneBits = new Uint32Array(one.buffer);

/** The e4m3 code of the f32 with bit pattern `b`: exactly f32ToFp8e4m3 of that value. */
export function fp8FromF32Bits(b: number): number {
  const sign = (b >>> 24) & 0x80;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return 0x7f; // NaN (sign dropped, as numerics.ts does)
  if (a >= F32_448) return sign | 0x7e; // satfinite: ±448, infinities included
  if (a >= F32_MIN_NORMAL) {
    // round the 23-bit mantissa to 3 bits, ties to even; a carry bumps the exponent, which is right
    const r = a + 0x7ffff + ((a >>> 20) & 1);
    return sign | ((r >>> 20) - REBIAS);
  }
  // subnormal e4m3: multiples of 2^-9; the scaled value is exact in a double, rounded ties-to-even
  oneBits[0] = a;
  const t = one[0] * 512;
  let q = Math.floor(t);
  const f = t - q;
  if (f > 0.5 || (f === 0.5 && (q & 1) === 1)) q++;
  return sign | q; // q = 8 is code 0x08, the smallest normal: the codes are monotone
}

export interface Fp8Weight {
  /** fp8e4m3 [N,K] */
  readonly fp8: HostTensor;
  /** f32 [N]: W[n,k] ≈ fp8[n,k] · scale[n] */
  readonly scale: HostTensor;
}

/**
 * Quantize a [N,K] float weight per output row. scale = f32(amax_row / 448), or 1 for a row of zeros (or
 * one so tiny that the scale underflows, whose weights then round to 0). Non-finite weights are an error:
 * they would poison the whole row's scale. `name` is for that message.
 */
export function quantizeFp8(w: HostTensor, name = 'weight'): Fp8Weight {
  if (w.shape.length !== 2) throw new RangeError(`quantizeFp8 ${name}: expected a [N,K] weight, got [${w.shape.join(', ')}]`);
  if (w.dtype !== 'bf16' && w.dtype !== 'f16' && w.dtype !== 'f32') throw new TypeError(`quantizeFp8 ${name}: cannot quantize ${w.dtype} (bf16, f16 or f32 expected)`);
  const [N, K] = w.shape;
  const out = new Uint8Array(N * K);
  const scales = new Float32Array(N);
  const row = new Float32Array(K);
  const bits = new Uint32Array(row.buffer);
  const src = w.data;
  const read = w.dtype === 'f16' ? reader(w) : undefined;
  for (let n = 0; n < N; n++) {
    const off = n * K;
    // the row as f32 (bf16: its bits shifted into place) and its amax
    let amax = 0;
    if (w.dtype === 'bf16') {
      const s = src as Uint16Array;
      let m = 0;
      for (let k = 0; k < K; k++) { const h = s[off + k]; bits[k] = h << 16; const a = h & 0x7fff; if (a > m) m = a; }
      if (m >= 0x7f80) throw nonFinite(name, n);
      oneBits[0] = m << 16;
      amax = one[0];
    } else {
      if (w.dtype === 'f32') row.set((src as Float32Array).subarray(off, off + K));
      else for (let k = 0; k < K; k++) row[k] = read!(off + k);
      for (let k = 0; k < K; k++) { const a = Math.abs(row[k]); if (!(a <= amax)) { if (!Number.isFinite(a)) throw nonFinite(name, n); amax = a; } }
    }
    let scale = Math.fround(amax / FP8_MAX);
    if (scale === 0) scale = 1;
    scales[n] = scale;
    // f32 store: the correctly rounded f32 quotient, whose bits the conversion reads back
    for (let k = 0; k < K; k++) { row[k] = row[k] / scale; out[off + k] = fp8FromF32Bits(bits[k]); }
  }
  return { fp8: hostTensor('fp8e4m3', [N, K], out), scale: hostTensor('f32', [N], scales) };
}

function nonFinite(name: string, row: number): Error {
  return new RangeError(`quantizeFp8 ${name}: row ${row} holds a non-finite weight (inf or NaN); it cannot be scaled to fp8`);
}

/** fp8 · scale as f32 [N,K]: the weights the quantized linear effectively uses (for tests and error reports). */
export function dequantizeFp8(q: Fp8Weight): HostTensor {
  const [N, K] = q.fp8.shape;
  const codes = q.fp8.data as Uint8Array;
  const s = q.scale.data as Float32Array;
  const table = Float32Array.from({ length: 256 }, (_, c) => fp8e4m3ToF32(c));
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = table[codes[n * K + k]] * s[n];
  return hostTensor('f32', [N, K], out);
}
