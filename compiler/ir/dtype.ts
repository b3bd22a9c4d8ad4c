// Element types of the IR. Storage types (bf16, f16, fp8e4m3) round on store; arithmetic is f32.
export const DTYPES = ['f32', 'f16', 'bf16', 'fp8e4m3', 'i32', 'i64', 'bool'] as const;
/** Element types of the IR: f32 f16 bf16 fp8e4m3 i32 i64 bool. */
export type DType = (typeof DTYPES)[number];
/** The floating-point element types (weight storage types). */
export type FloatDType = 'f32' | 'f16' | 'bf16' | 'fp8e4m3';
export type IntDType = 'i32' | 'i64';

export const isDType = (s: string): s is DType => (DTYPES as readonly string[]).includes(s);
export const isFloat = (d: DType): d is FloatDType => d === 'f32' || d === 'f16' || d === 'bf16' || d === 'fp8e4m3';
export const isInt = (d: DType): d is IntDType => d === 'i32' || d === 'i64';

/** Bytes per element as stored in device and host memory. */
export function itemSize(d: DType): number {
  switch (d) {
    case 'f32': case 'i32': return 4;
    case 'f16': case 'bf16': return 2;
    case 'fp8e4m3': case 'bool': return 1;
    case 'i64': return 8;
  }
}
