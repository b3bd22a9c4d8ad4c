// Small helpers for writing rewrite rules: constants as the interpreter sees them, node builders,
// and exact scalar folding through the interpreter's own elementwise code.
import type { DType } from '../ir/dtype.ts';
import { evalElementwise } from '../ir/interp-elementwise.ts';
import { Node } from '../ir/node.ts';
import type { Shape } from '../ir/shape.ts';
import { hostTensor, reader, writer } from '../ir/tensor-data.ts';
import { concatOffsets } from '../ir/verify.ts';

/** Round-trip one value through storage of `dtype`: what a const of that dtype actually holds. */
function stored(dtype: DType, v: number): number | undefined {
  try {
    const t = hostTensor(dtype, [1]);
    writer(t)(0, v);
    return reader(t)(0);
  } catch {
    return undefined; // a value the storage writer rejects: leave such a const alone
  }
}

/** The value a const node holds after storage rounding (a `const 0.1 : bf16` holds 0.10009765625). */
export function constValue(n: Node): number | undefined {
  return n.op === 'const' ? stored(n.dtype, n.argOf<number>('value')) : undefined;
}

/** Whether n is a const holding exactly v (Object.is: -0 and +0 differ, NaN equals NaN). */
export const isConstOf = (n: Node, v: number): boolean => n.op === 'const' && Object.is(constValue(n), v);

export const makeConst = (value: number, dtype: DType, shape: Shape): Node => Node.make('const', [], { value }, dtype, shape);

export const makeSlice = (x: Node, axis: number, start: number, end: number): Node => Node.make('slice', [x], { axis, start, end });

export interface SliceArgs { axis: number; start: number; end: number }
export const sliceArgs = (n: Node): SliceArgs => ({ axis: n.argOf<number>('axis'), start: n.argOf<number>('start'), end: n.argOf<number>('end') });

/**
 * Slicing concat `c` along its own axis, expressed on its operands: one operand (or a slice of it) when
 * the range lies inside it, a narrower concat when it covers a run of whole operands; else undefined.
 */
export function sliceConcat(c: Node, s: SliceArgs): Node | undefined {
  if (c.op !== 'concat' || c.argOf<number>('axis') !== s.axis) return undefined;
  const offs = concatOffsets(c);
  const size = (i: number): number => c.src[i].shape[s.axis] as number;
  const i = offs.findIndex((o, k) => s.start >= o && s.end <= o + size(k));
  if (i >= 0) {
    const x = c.src[i];
    return s.start === offs[i] && s.end === offs[i] + size(i) ? x : makeSlice(x, s.axis, s.start - offs[i], s.end - offs[i]);
  }
  const first = offs.indexOf(s.start);
  const last = offs.findIndex((o, k) => o + size(k) === s.end);
  if (first < 0 || last < 0) return undefined;
  const run = c.src.slice(first, last + 1);
  return run.length === c.src.length ? c : Node.make('concat', run, { axis: s.axis });
}

/** Evaluate an elementwise node whose operands are all consts, with the interpreter's scalar code. */
export function foldElementwise(n: Node): Node | undefined {
  try {
    const src = n.src.map((s) => {
      const t = hostTensor(s.dtype, [1]);
      writer(t)(0, s.argOf<number>('value'));
      return t;
    });
    const v = reader(evalElementwise(n, src, [1]))(0);
    return makeConst(v, n.dtype, n.shape);
  } catch {
    return undefined; // integer division by zero and the like: leave it for run time to report
  }
}
