// Host tensors: the values the interpreter, the CPU backend and the checkpoint loader exchange.
// Storage follows the dtype exactly: bf16/f16 as raw 16-bit patterns, fp8e4m3 as raw bytes.
import type { DType } from './dtype.ts';
import { itemSize } from './dtype.ts';
import { bf16ToF32, f16ToF32, fp8e4m3ToF32, f32ToBf16, f32ToF16, f32ToFp8e4m3 } from './numerics.ts';

export type TypedData = Float32Array | Uint16Array | Uint8Array | Int32Array | BigInt64Array;

/** A tensor in host memory: dtype, shape and row-major data (bf16/f16 as raw 16-bit words). */
export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedData;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

let wideF32 = false;

/**
 * Run `fn` with f32 values held in float64 storage (the "f64 interpreter"): every f32 result the
 * interpreter computes keeps its float64 value instead of rounding. For gradient checks against finite
 * differences, which f32 rounding would swamp; nothing else uses it.
 */
export function withF64<T>(fn: () => T): T {
  const was = wideF32;
  wideF32 = true;
  try { return fn(); } finally { wideF32 = was; }
}

/** Storage for n f32 values: a Float32Array, or a Float64Array inside {@link withF64}. */
export const floatArray = (n: number): Float32Array => (wideF32 ? new Float64Array(n) as unknown as Float32Array : new Float32Array(n));

export function allocData(dtype: DType, n: number): TypedData {
  switch (dtype) {
    case 'f32': return floatArray(n);
    case 'f16': case 'bf16': return new Uint16Array(n);
    case 'fp8e4m3': case 'bool': return new Uint8Array(n);
    case 'i32': return new Int32Array(n);
    case 'i64': return new BigInt64Array(n);
  }
}

export function hostTensor(dtype: DType, shape: readonly number[], data?: TypedData): HostTensor {
  const n = numel(shape);
  const d = data ?? allocData(dtype, n);
  if (d.length !== n) throw new RangeError(`tensor data has ${d.length} elements, shape [${shape.join(', ')}] needs ${n}`);
  return { dtype, shape: [...shape], data: d };
}

/** A reader that turns element i of `t` into a JS number (f32 value for floats). */
export function reader(t: HostTensor): (i: number) => number {
  const d = t.data;
  switch (t.dtype) {
    case 'f32': case 'i32': case 'bool': return (i) => (d as Float32Array)[i];
    case 'bf16': return (i) => bf16ToF32((d as Uint16Array)[i]);
    case 'f16': return (i) => f16ToF32((d as Uint16Array)[i]);
    case 'fp8e4m3': return (i) => fp8e4m3ToF32((d as Uint8Array)[i]);
    case 'i64': return (i) => Number((d as BigInt64Array)[i]);
  }
}

const I64_MAX = 2n ** 63n - 1n, I64_MIN = -(2n ** 63n);

/** A writer that stores a JS number into element i, rounding to the storage type (i64: saturating, NaN → 0). */
export function writer(t: HostTensor): (i: number, v: number) => void {
  const d = t.data;
  switch (t.dtype) {
    case 'f32': return (i, v) => { (d as Float32Array)[i] = v; };
    case 'i32': return (i, v) => { (d as Int32Array)[i] = v; };
    case 'bool': return (i, v) => { (d as Uint8Array)[i] = v ? 1 : 0; };
    case 'bf16': return (i, v) => { (d as Uint16Array)[i] = f32ToBf16(v); };
    case 'f16': return (i, v) => { (d as Uint16Array)[i] = f32ToF16(v); };
    case 'fp8e4m3': return (i, v) => { (d as Uint8Array)[i] = f32ToFp8e4m3(v); };
    case 'i64': return (i, v) => {
      const b = Number.isNaN(v) ? 0n : v >= 2 ** 63 ? I64_MAX : v < -(2 ** 63) ? I64_MIN : BigInt(Math.trunc(v));
      (d as BigInt64Array)[i] = b;
    };
  }
}

/** Copy any tensor's values into a fresh Float32Array (floats exact; ints as numbers). */
export function toF32(t: HostTensor): Float32Array {
  if (t.dtype === 'f32') return t.data as Float32Array;
  const r = reader(t);
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = r(i);
  return out;
}

export const byteLength = (t: HostTensor): number => t.data.length * itemSize(t.dtype);
