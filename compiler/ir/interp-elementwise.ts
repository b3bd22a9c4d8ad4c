// Elementwise ops for the interpreter.
import { isFloat } from './dtype.ts';
import { erf, geluErf, geluTanh, sigmoid } from './math.ts';
import type { Node } from './node.ts';
import type { HostTensor } from './tensor-data.ts';
import { hostTensor, numel, reader, writer } from './tensor-data.ts';

type F1 = (x: number) => number;
type F2 = (a: number, b: number) => number;

const UNARY_F: Record<string, F1> = {
  neg: (x) => -x, exp: Math.exp, log: Math.log, sqrt: Math.sqrt, rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh, erf, sigmoid, abs: Math.abs, recip: (x) => 1 / x,
};

const nanMax = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const nanMin = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));

const BINARY_F: Record<string, F2> = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
  max: nanMax, min: nanMin, cmplt: (a, b) => (a < b ? 1 : 0), cmpeq: (a, b) => (a === b ? 1 : 0),
};

/** Integer semantics: wrap to 32 bits for i32, truncating division. */
function intBinary(op: string, dtype: string): F2 {
  const wrap = dtype === 'i32' ? (v: number) => v | 0 : (v: number) => v;
  switch (op) {
    case 'add': return (a, b) => wrap(a + b);
    case 'sub': return (a, b) => wrap(a - b);
    case 'mul': return dtype === 'i32' ? (a, b) => Math.imul(a, b) : (a, b) => a * b;
    case 'div': return (a, b) => { if (b === 0) throw new RangeError('integer division by zero'); return wrap(Math.trunc(a / b)); };
    default: return BINARY_F[op];
  }
}

const I32_MIN = -(2 ** 31), I32_MAX = 2 ** 31 - 1;

/**
 * One element of a cast. Float → int truncates toward zero and saturates to the integer range, NaN → 0
 * (PTX cvt.rzi.s32/s64.f32 semantics); int → int wraps (keeps the low bits); → bool is "≠ 0" (NaN → 0).
 * Out-of-range i64 values saturate in the i64 writer.
 */
export function castValue(to: string, v: number, from: string = 'f32'): number {
  if (to === 'bool') return v !== 0 && !Number.isNaN(v) ? 1 : 0;
  const fromFloat = from !== 'i32' && from !== 'i64' && from !== 'bool';
  if (to === 'i32') {
    if (!fromFloat) return v | 0;
    return Number.isNaN(v) ? 0 : Math.min(I32_MAX, Math.max(I32_MIN, Math.trunc(v)));
  }
  if (to === 'i64') return Number.isNaN(v) ? 0 : Math.trunc(v);
  return v;
}

export function evalElementwise(n: Node, src: readonly HostTensor[], shape: number[]): HostTensor {
  const out = hostTensor(n.dtype, shape);
  const w = writer(out);
  const len = numel(shape);
  const r = src.map(reader);
  if (n.op === 'cast') {
    for (let i = 0; i < len; i++) w(i, castValue(n.dtype, r[0](i), src[0].dtype));
  } else if (n.op === 'where') {
    for (let i = 0; i < len; i++) w(i, r[0](i) ? r[1](i) : r[2](i));
  } else if (n.op === 'gelu') {
    const f = n.argOf<string>('approx') === 'tanh' ? geluTanh : geluErf;
    for (let i = 0; i < len; i++) w(i, f(r[0](i)));
  } else if (src.length === 1) {
    const f = UNARY_F[n.op];
    for (let i = 0; i < len; i++) w(i, f(r[0](i)));
  } else {
    const f = isFloat(src[0].dtype) ? BINARY_F[n.op] : intBinary(n.op, src[0].dtype);
    for (let i = 0; i < len; i++) w(i, f(r[0](i), r[1](i)));
  }
  return out;
}
