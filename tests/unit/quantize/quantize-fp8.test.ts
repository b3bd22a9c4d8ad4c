// The FP8 weight quantizer: its bit-level conversion against numerics.ts, per-row scales, saturation,
// zero rows, non-finite weights, and the round-trip error bound of e4m3.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f32ToBf16, f32ToFp8e4m3, fp8e4m3ToF32 } from '../../../compiler/ir/numerics.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor, reader, writer } from '../../../compiler/ir/tensor-data.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { dequantizeFp8, fp8FromF32Bits, quantizeFp8 } from '../../../runtime/quantize-fp8.ts';
import { rng } from '../../support/random-graph.ts';

const F = new Float32Array(1);
const U = new Uint32Array(F.buffer);
const fromBits = (b: number): number => { U[0] = b >>> 0; return F[0]; };
const toBits = (x: number): number => { F[0] = x; return U[0]; };

const bf16 = (shape: [number, number], values: number[]): HostTensor =>
  hostTensor('bf16', shape, Uint16Array.from(values, (v) => f32ToBf16(v)));

describe('fp8FromF32Bits', () => {
  it('equals f32ToFp8e4m3 on every e4m3 value, every midpoint between neighbours and one f32 ulp around them', () => {
    for (let c = 0; c < 0x7f; c++) {
      const lo = fp8e4m3ToF32(c);
      const hi = c < 0x7e ? fp8e4m3ToF32(c + 1) : 480; // past 448: saturation
      for (const sign of [1, -1]) {
        for (const v of [lo, (lo + hi) / 2, hi]) {
          const b = toBits(sign * v);
          for (const d of [-1, 0, 1]) {
            const x = b + d;
            if (((x ^ b) & 0x80000000) !== 0) continue; // do not step across the sign bit
            expect(fp8FromF32Bits(x), `bits 0x${(x >>> 0).toString(16)}`).toBe(f32ToFp8e4m3(fromBits(x)));
          }
        }
      }
    }
  });

  it('equals f32ToFp8e4m3 on a sweep of all f32 bit patterns (every 4099th), infinities and NaN', () => {
    const bad: string[] = [];
    for (let b = 0; b < 2 ** 32; b += 4099) if (fp8FromF32Bits(b) !== f32ToFp8e4m3(fromBits(b))) bad.push(b.toString(16));
    expect(bad).toEqual([]);
    for (const b of [0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x80000000, 0]) expect(fp8FromF32Bits(b)).toBe(f32ToFp8e4m3(fromBits(b)));
  });
});

describe('quantizeFp8', () => {
  it('scales each row by its own amax / 448, so the largest weight of every row is ±448 (code 0x7e)', () => {
    const w = bf16([3, 4], [1, -2, 0.5, 0.25, /**/ 0.001, 0.002, -0.004, 0, /**/ 300, 100, -50, 7]);
    const q = quantizeFp8(w);
    expect(Array.from(q.scale.data as Float32Array)).toEqual([2, bf16ToF32(f32ToBf16(0.004)), 300].map((a) => Math.fround(a / 448)));
    const codes = q.fp8.data as Uint8Array;
    expect(codes[1]).toBe(0xfe); // -2 is the row's amax: -448
    expect(codes[6]).toBe(0xfe);
    expect(codes[8]).toBe(0x7e);
    expect(q.fp8.dtype).toBe('fp8e4m3');
    expect(q.scale.dtype).toBe('f32');
  });

  it('gives a row of zeros (and signed zeros) scale 1 and keeps the signs of zero', () => {
    const q = quantizeFp8(bf16([2, 3], [0, -0, 0, 1, 2, 3]));
    expect((q.scale.data as Float32Array)[0]).toBe(1);
    expect(Array.from((q.fp8.data as Uint8Array).subarray(0, 3))).toEqual([0x00, 0x80, 0x00]);
  });

  it('saturates: a quotient that rounds above 448 in f32 still stores ±448, never NaN', () => {
    // f32 weights whose amax/448 rounds down, so amax/scale > 448 by an ulp
    const r = rng(7);
    let saturated = 0;
    for (let i = 0; i < 2000; i++) {
      const amax = Math.fround(1 + r.next() * 1000);
      const q = quantizeFp8(hostTensor('f32', [1, 2], Float32Array.of(amax, -amax)));
      const s = (q.scale.data as Float32Array)[0];
      if (Math.fround(amax / s) > 448) saturated++;
      expect(Array.from(q.fp8.data as Uint8Array)).toEqual([0x7e, 0xfe]);
    }
    expect(saturated).toBeGreaterThan(0); // the case occurs in this sample
  });

  it('round trip: |w − fp8·scale| ≤ half an e4m3 ulp (2^-4 relative) for normals, 2^-10·scale below them', () => {
    const r = rng(11);
    const N = 64, K = 257;
    for (const dtype of ['bf16', 'f16', 'f32'] as const) {
      const w = hostTensor(dtype, [N, K]);
      const vals = Array.from({ length: N * K }, (_, i) => (r.next() * 2 - 1) * 10 ** (Math.floor(i / K) % 5 - 2) * (r.chance(0.05) ? 1e-3 : 1));
      const put = writer(w);
      vals.forEach((v, i) => put(i, v));
      const q = quantizeFp8(w, dtype);
      const back = dequantizeFp8(q).data as Float32Array;
      const orig = reader(w);
      const scale = q.scale.data as Float32Array;
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const x = orig(n * K + k), y = back[n * K + k], s = scale[n];
          const scaled = Math.abs(x) / s;
          // 2^-4 relative (half of e4m3's 2^-3 mantissa step) plus the f32 roundings of x/s and q·s
          const bound = scaled >= 2 ** -6 ? Math.abs(x) * (2 ** -4 + 2 ** -22) : 2 ** -10 * s * (1 + 2 ** -20);
          expect(Math.abs(x - y), `${dtype} [${n},${k}] ${x} → ${y}`).toBeLessThanOrEqual(bound);
        }
      }
    }
  });

  it('rejects non-finite weights, naming the tensor and the row, and weights that are not [N,K] floats', () => {
    expect(() => quantizeFp8(bf16([2, 2], [1, 2, Infinity, 3]), 'head.0.weight')).toThrow('quantizeFp8 head.0.weight: row 1 holds a non-finite weight');
    expect(() => quantizeFp8(hostTensor('f32', [1, 2], Float32Array.of(NaN, 1)), 'w')).toThrow(/row 0 holds a non-finite/);
    expect(() => quantizeFp8(hostTensor('f32', [4], new Float32Array(4)), 'v')).toThrow(/expected a \[N,K\] weight/);
    expect(() => quantizeFp8(hostTensor('i32', [2, 2]), 'ids')).toThrow(/cannot quantize i32/);
  });
});

describe('the interpreter on fp8 weights', () => {
  it('decodes every e4m3 code of a linear weight exactly (its table fast path = fp8e4m3ToF32)', () => {
    const K = 256;
    const codes = Uint8Array.from({ length: 2 * K }, (_, i) => ((i % K) & 0x7f) === 0x7f ? 0 : i % K);
    const r = rng(5);
    const xs = Float32Array.from({ length: 3 * K }, () => r.next() * 2 - 1);
    const run = (w: HostTensor): Float32Array => {
      const x = Node.make('input', [], { name: 'x' }, 'f32', [3, K]);
      const p = Node.make('param', [], { name: 'w' }, w.dtype, [2, K]);
      const g = makeGraph('g', [x], [{ name: 'y', node: Node.make('linear', [x, p]) }]);
      return interpret(g, { x: hostTensor('f32', [3, K], xs) }, new Map([['w', w]])).y.data as Float32Array;
    };
    const asF32 = hostTensor('f32', [2, K], Float32Array.from(codes, (c) => fp8e4m3ToF32(c)));
    expect(run(hostTensor('fp8e4m3', [2, K], codes))).toEqual(run(asF32));
  });
});
