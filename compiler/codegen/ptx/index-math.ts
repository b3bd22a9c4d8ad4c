// Index arithmetic: coordinates are u32 values `r + k` with a static range [lo, hi), so constant
// offsets (slice starts, concat offsets) fold into k without instructions and concat can skip
// operands a coordinate can never reach. Every tensor has < 2^31 elements (checked by compile), so
// linear indices fit u32; byte addresses widen to u64 with mad.wide.
import type { Dim, Shape } from '../../ir/shape.ts';
import type { PtxBuilder } from './builder.ts';
import type { KernelEnv } from './kernel-env.ts';

export interface Ix {
  /** u32 register, or null for a constant */
  readonly r: string | null;
  readonly k: number;
  /** static bounds of the value: lo ≤ r + k < hi */
  readonly lo: number;
  readonly hi: number;
}

export const ixConst = (v: number): Ix => ({ r: null, k: v, lo: v, hi: v + 1 });
export const ixReg = (r: string, hi: number): Ix => ({ r, k: 0, lo: 0, hi });
export const ixKey = (c: Ix): string => `${c.r ?? ''}${c.k >= 0 ? '+' : ''}${c.k}`;
export const ixSame = (a: Ix, b: Ix): boolean => a.r === b.r && a.k === b.k;

export function ixShift(c: Ix, d: number): Ix {
  return d === 0 ? c : { r: c.r, k: c.k + d, lo: c.lo + d, hi: c.hi + d };
}

/** The coordinate as one operand (immediate or register). */
export function ixOperand(b: PtxBuilder, c: Ix): string {
  if (c.r === null) return String(c.k);
  if (c.k === 0) return c.r;
  const t = b.reg('u32');
  b.ins('add.s32', t, c.r, String(c.k));
  return t;
}

/** Σ c_i · stride_i for a row-major tensor of `shape`, as an operand. */
export function linearIndex(env: KernelEnv, shape: Shape, coords: readonly Ix[]): string {
  const b = env.b;
  let konst = 0;
  let acc: string | null = null;
  const addTerm = (x: string, s: string): void => {
    const t = b.reg('u32');
    if (acc === null) b.ins('mul.lo.u32', t, x, s); else b.ins('mad.lo.u32', t, x, s, acc);
    acc = t;
  };
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue; // the coordinate is 0
    const c = coords[i];
    const tail = shape.slice(i + 1);
    const static_ = tail.every((d) => typeof d === 'number');
    const strideNum = static_ ? (tail as number[]).reduce((a, d) => a * d, 1) : 0;
    const stride = static_ ? String(strideNum) : env.product(tail);
    if (static_) konst += c.k * strideNum;
    else if (c.k !== 0) addTerm(stride, String(c.k));
    if (c.r !== null) {
      if (static_ && strideNum === 1 && acc === null) { acc = c.r; continue; }
      if (static_ && strideNum === 1) { const t = b.reg('u32'); b.ins('add.s32', t, acc!, c.r); acc = t; continue; }
      addTerm(c.r, stride);
    }
  }
  if (acc === null) return String(konst);
  if (konst === 0) return acc;
  const t = b.reg('u32');
  b.ins('add.s32', t, acc, String(konst));
  return t;
}

/** Split a linear index (u32 register, < Π shape) into row-major coordinates. */
export function decompose(env: KernelEnv, idx: string, shape: Shape): Ix[] {
  const b = env.b;
  const out: Ix[] = new Array(shape.length);
  let rest = idx;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d: Dim = shape[i];
    if (d === 1) { out[i] = ixConst(0); continue; }
    const hi = env.max(d);
    if (i === 0 || shape.slice(0, i).every((x) => x === 1)) { out[i] = ixReg(rest, hi); break; }
    const q = b.reg('u32'), r = b.reg('u32');
    b.ins('rem.u32', r, rest, env.dim(d));
    b.ins('div.u32', q, rest, env.dim(d));
    out[i] = ixReg(r, hi);
    rest = q;
  }
  for (let i = 0; i < shape.length; i++) if (!out[i]) out[i] = ixConst(0);
  return out;
}

/** Byte address of element `idx` (operand) of a buffer based at `base`. */
export function address(b: PtxBuilder, base: string, idx: string, elemBytes: number): string {
  const a = b.reg('u64');
  if (/^-?\d+$/.test(idx)) {
    const off = Number(idx) * elemBytes;
    if (off === 0) return base;
    b.ins('add.s64', a, base, String(off));
  } else b.ins('mad.wide.u32', a, idx, String(elemBytes), base);
  return a;
}
