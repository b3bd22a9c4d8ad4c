// simplify: algebraic clean-up that is exact under the interpreter's numerics (same values, bit for bit,
// NaN payloads aside). Anything that could change a value — x·0, x+(+0), f32→bf16→f32 — is left alone.
import { z } from 'zod';
import type { DType } from '../ir/dtype.ts';
import { isFloat } from '../ir/dtype.ts';
import { Node } from '../ir/node.ts';
import { ELEMENTWISE } from '../ir/ops.ts';
import type { Rule, RuleTable } from '../ir/rewrite.ts';
import { rewriteGraph } from '../ir/rewrite.ts';
import { sameShape } from '../ir/shape.ts';
import { definePass } from './pass.ts';
import { constValue, foldElementwise, isConstOf, makeConst, makeSlice, sliceArgs, sliceConcat } from './patterns.ts';

/** Dtypes that hold every value of the key dtype exactly, so a cast through them loses nothing. */
const EXACT_IN: Record<DType, readonly DType[]> = {
  bool: ['fp8e4m3', 'bf16', 'f16', 'f32', 'i32', 'i64'],
  fp8e4m3: ['bf16', 'f16', 'f32'],
  bf16: ['f32'], f16: ['f32'], f32: [], i32: ['i64'], i64: [],
};

/** The additive identity that is exact for every x: -0 for floats (since -0 + +0 = +0), 0 for ints. */
const addIdentity = (d: DType): number => (isFloat(d) ? -0 : 0);

const other = (n: Node, i: number): Node => n.src[1 - i];

export const SIMPLIFY_RULES: RuleTable = [
  { name: 'fold-constants', op: [...ELEMENTWISE], match: (n) => (n.src.every((s) => s.op === 'const') ? foldElementwise(n) : undefined) },
  {
    name: 'where-const-condition', op: 'where',
    match: (n) => { const c = constValue(n.src[0]); return c === undefined ? undefined : c ? n.src[1] : n.src[2]; },
  },
  { name: 'add-identity', op: 'add', match: (n) => { const i = n.src.findIndex((s) => isConstOf(s, addIdentity(n.dtype))); return i < 0 ? undefined : other(n, i); } },
  { name: 'sub-zero', op: 'sub', match: (n) => (isConstOf(n.src[1], 0) ? n.src[0] : undefined) },
  { name: 'mul-one', op: 'mul', match: (n) => { const i = n.src.findIndex((s) => isConstOf(s, 1)); return i < 0 ? undefined : other(n, i); } },
  { name: 'div-one', op: 'div', match: (n) => (isConstOf(n.src[1], 1) ? n.src[0] : undefined) },
  { name: 'cast-identity', op: 'cast', match: (n) => (n.src[0].dtype === n.dtype ? n.src[0] : undefined) },
  {
    // cast(cast(x, mid), to) = cast(x, to) when mid holds every value of x's dtype: bf16→f32→bf16 is x,
    // but f32→bf16→f32 rounds and stays
    name: 'cast-of-lossless-cast', op: 'cast',
    match: (n) => {
      const inner = n.src[0];
      if (inner.op !== 'cast' || !EXACT_IN[inner.src[0].dtype].includes(inner.dtype)) return undefined;
      const x = inner.src[0];
      return x.dtype === n.dtype ? x : Node.make('cast', [x], null, n.dtype);
    },
  },
  { name: 'movement-identity', op: ['reshape', 'broadcast', 'slice'], match: (n) => (sameShape(n.shape, n.src[0].shape) ? n.src[0] : undefined) },
  {
    name: 'reshape-of-reshape', op: 'reshape',
    match: (n) => (n.src[0].op === 'reshape' ? Node.make('reshape', [n.src[0].src[0]], { shape: [...n.shape] }) : undefined),
  },
  {
    name: 'broadcast-of-broadcast', op: 'broadcast',
    match: (n) => (n.src[0].op === 'broadcast' ? Node.make('broadcast', [n.src[0].src[0]], { shape: [...n.shape] }) : undefined),
  },
  {
    name: 'permute', op: 'permute',
    match: (n) => {
      const inner = n.src[0];
      const q = n.argOf<number[]>('perm');
      // permute(permute(x, p), q)[i] = x[p[q[i]]]
      const [x, perm] = inner.op === 'permute' ? [inner.src[0], q.map((i) => inner.argOf<number[]>('perm')[i])] : [inner, q];
      if (perm.every((p, i) => p === i)) return x;
      return x === inner ? undefined : Node.make('permute', [x], { perm });
    },
  },
  {
    name: 'slice-of-slice', op: 'slice',
    match: (n) => {
      const inner = n.src[0], s = sliceArgs(n);
      if (inner.op !== 'slice' || inner.argOf<number>('axis') !== s.axis) return undefined;
      const o = inner.argOf<number>('start');
      return makeSlice(inner.src[0], s.axis, o + s.start, o + s.end);
    },
  },
  {
    name: 'slice-selects-concat-operand', op: 'slice',
    match: (n) => { const r = sliceConcat(n.src[0], sliceArgs(n)); return r && n.src[0].src.includes(r) ? r : undefined; },
  },
  {
    // only the expanded or new axes shrink the broadcast; a real axis is sliced before broadcasting
    name: 'slice-of-broadcast', op: 'slice',
    match: (n) => {
      const b = n.src[0];
      if (b.op !== 'broadcast') return undefined;
      const x = b.src[0], s = sliceArgs(n), xa = s.axis - (b.shape.length - x.shape.length);
      const src = xa < 0 || x.shape[xa] === 1 ? x : makeSlice(x, xa, s.start, s.end);
      return Node.make('broadcast', [src], { shape: [...n.shape] });
    },
  },
  { name: 'concat-of-one', op: 'concat', match: (n) => (n.src.length === 1 ? n.src[0] : undefined) },
  {
    // concat(slice(x, a, b), slice(x, b, c), ...) along the slices' axis is one slice of x (x itself when it
    // covers the axis: movement-identity): gates fused by gate-fusion and concatenated again give P back
    name: 'concat-of-adjacent-slices', op: 'concat',
    match: (n) => {
      const axis = n.argOf<number>('axis'), first = n.src[0];
      if (first.op !== 'slice' || first.argOf<number>('axis') !== axis) return undefined;
      const x = first.src[0];
      let end = first.argOf<number>('start');
      for (const s of n.src) {
        if (s.op !== 'slice' || s.src[0] !== x || s.argOf<number>('axis') !== axis || s.argOf<number>('start') !== end) return undefined;
        end = s.argOf<number>('end');
      }
      return makeSlice(x, axis, first.argOf<number>('start'), end);
    },
  },
  {
    name: 'concat-of-equal-consts', op: 'concat',
    match: (n) => {
      const v = constValue(n.src[0]);
      return v !== undefined && n.src.every((s) => isConstOf(s, v)) ? makeConst(v, n.dtype, n.shape) : undefined;
    },
  },
];

/** Movement of a uniform constant is the constant at the new shape. Shared with fold-concat-slice. */
export const CONST_MOVEMENT: Rule = {
  name: 'movement-of-const', op: ['reshape', 'broadcast', 'permute', 'slice'],
  match: (n) => (n.src[0].op === 'const' ? makeConst(n.src[0].argOf<number>('value'), n.dtype, n.shape) : undefined),
};

export const SIMPLIFY_TABLE: RuleTable = [...SIMPLIFY_RULES, CONST_MOVEMENT];

export default definePass({
  name: 'simplify',
  summary: 'exact algebraic clean-up: constant folding, identities, cast and movement chains',
  description: [
    'Rewrites to a fixpoint, keeping every value bit-exact under the interpreter (NaN payloads aside):',
    'folds elementwise ops of constants with the interpreter\'s scalar code; where() on a constant condition;',
    'x+(-0), x-0, x·1, x/1 (x+(+0) is kept: -0+0 is +0; x·0 is kept: NaN, inf and -0);',
    'casts to the same dtype, cast(cast(x)) through a dtype that holds x exactly (bf16→f32→bf16 is x,',
    'f32→bf16→f32 rounds and stays); reshape/broadcast/permute chains and identities; slice of slice;',
    'slice that selects exactly one concat operand; slice of broadcast; concat of adjacent slices of one',
    'tensor; movement of constants.',
  ].join(' '),
  options: z.strictObject({}),
  stage: 'simplified',
  run: (g) => rewriteGraph(g, SIMPLIFY_TABLE, { name: 'simplify' }),
});
