// dtype and shape inference by rule: one place decides what every op produces.
import type { DType } from './dtype.ts';
import { isDType, isFloat, isInt } from './dtype.ts';
import { IRError } from './errors.ts';
import type { Node } from './node.ts';
import type { Arg, Op } from './ops.ts';
import { BINARY, UNARY } from './ops.ts';
import type { Dim, Shape } from './shape.ts';
import { fmtShape, sameShape, sameSize } from './shape.ts';

export interface Typed { dtype: DType; shape: Shape }

const fail = (op: Op, msg: string): never => { throw new IRError(`${op}: ${msg}`); };
const desc = (n: Node): string => `${n.dtype}${fmtShape(n.shape)}`;

function num(op: Op, arg: Arg, k: string): number {
  const v = arg?.[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail(op, `attribute "${k}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}
function int(op: Op, arg: Arg, k: string): number {
  const v = num(op, arg, k);
  if (!Number.isInteger(v)) fail(op, `attribute "${k}" must be an integer, got ${v}`);
  return v;
}
function shapeArg(op: Op, arg: Arg, k: string): Dim[] {
  const v = arg?.[k];
  if (!Array.isArray(v)) return fail(op, `attribute "${k}" must be a list of dims`);
  for (const d of v) {
    if (typeof d === 'number' ? !(Number.isInteger(d) && d >= 0) : typeof d !== 'string') fail(op, `bad dim ${JSON.stringify(d)} in "${k}"`);
  }
  return [...v] as Dim[];
}
function axisArg(op: Op, arg: Arg, rank: number): number {
  const a = int(op, arg, 'axis');
  if (a < 0 || a >= rank) fail(op, `axis ${a} out of range for rank ${rank} (axes are stored non-negative)`);
  return a;
}
function arity(op: Op, src: readonly Node[], n: number): void {
  if (src.length !== n) fail(op, `expects ${n} operand(s), got ${src.length}`);
}

function rowIndex(op: Op, what: string, t: Node, rows: Shape[number]): void {
  if (t.dtype !== 'i32' || t.shape.length !== 1 || t.shape[0] !== rows) fail(op, `${what} must be i32[${rows}], got ${desc(t)}`);
}

export function inferNode(op: Op, src: readonly Node[], arg: Arg, dtype?: DType, shape?: Shape): Typed {
  if (op === 'input' || op === 'param' || op === 'const') {
    arity(op, src, 0);
    if (!dtype || !shape) return fail(op, 'leaves need an explicit dtype and shape');
    if (op === 'const') { if (typeof arg?.value !== 'number') fail(op, 'attribute "value" must be a number'); }
    else if (typeof arg?.name !== 'string' || arg.name === '') fail(op, 'attribute "name" must be a non-empty string');
    if (!isDType(dtype)) fail(op, `unknown dtype ${dtype}`);
    return { dtype, shape };
  }
  if (op === 'cast') {
    arity(op, src, 1);
    if (!dtype) return fail(op, 'cast needs a target dtype');
    if (!isDType(dtype)) fail(op, `unknown dtype ${dtype}`);
    return { dtype, shape: src[0].shape };
  }
  if (UNARY.has(op)) {
    arity(op, src, 1);
    const [x] = src;
    const intOk = op === 'neg' || op === 'abs';
    if (!isFloat(x.dtype) && !(intOk && isInt(x.dtype))) fail(op, `operand must be a float tensor, got ${desc(x)}`);
    if (op === 'gelu' && arg?.approx !== 'erf' && arg?.approx !== 'tanh') fail(op, 'attribute "approx" must be "erf" or "tanh"');
    return { dtype: x.dtype, shape: x.shape };
  }
  if (BINARY.has(op)) {
    arity(op, src, 2);
    const [a, b] = src;
    if (!sameShape(a.shape, b.shape)) fail(op, `operand shapes differ: ${fmtShape(a.shape)} vs ${fmtShape(b.shape)} (broadcast explicitly)`);
    if (a.dtype !== b.dtype) fail(op, `operand dtypes differ: ${a.dtype} vs ${b.dtype} (cast explicitly)`);
    if (a.dtype === 'bool' && op !== 'cmpeq') fail(op, 'bool operands only support cmpeq');
    return { dtype: op === 'cmplt' || op === 'cmpeq' ? 'bool' : a.dtype, shape: a.shape };
  }
  switch (op) {
    case 'where': {
      arity(op, src, 3);
      const [c, a, b] = src;
      if (c.dtype !== 'bool') fail(op, `condition must be bool, got ${desc(c)}`);
      if (!sameShape(c.shape, a.shape) || !sameShape(a.shape, b.shape)) fail(op, `shapes differ: ${fmtShape(c.shape)}, ${fmtShape(a.shape)}, ${fmtShape(b.shape)}`);
      if (a.dtype !== b.dtype) fail(op, `branch dtypes differ: ${a.dtype} vs ${b.dtype}`);
      return { dtype: a.dtype, shape: a.shape };
    }
    case 'sum': case 'reduce_max': case 'argmax': {
      arity(op, src, 1);
      const [x] = src;
      if (x.dtype === 'bool') fail(op, 'cannot reduce a bool tensor');
      const ax = axisArg(op, arg, x.shape.length);
      const out = x.shape.filter((_, i) => i !== ax);
      return { dtype: op === 'argmax' ? 'i32' : x.dtype, shape: out };
    }
    case 'topk_values': case 'topk_indices': {
      arity(op, src, 1);
      const [x] = src;
      if (!isFloat(x.dtype)) fail(op, `operand must be float, got ${desc(x)}`);
      const k = int(op, arg, 'k');
      const last = x.shape[x.shape.length - 1];
      if (x.shape.length === 0) fail(op, 'operand must have rank ≥ 1');
      if (k < 1 || (typeof last === 'number' && k > last)) fail(op, `k=${k} out of range for last dim ${last}`);
      return { dtype: op === 'topk_values' ? x.dtype : 'i32', shape: [...x.shape.slice(0, -1), k] };
    }
    case 'softmax': case 'rms_norm': case 'layer_norm': {
      arity(op, src, 1);
      const [x] = src;
      if (!isFloat(x.dtype) || x.shape.length === 0) fail(op, `operand must be a float tensor of rank ≥ 1, got ${desc(x)}`);
      if (op !== 'softmax' && num(op, arg, 'eps') < 0) fail(op, 'eps must be ≥ 0');
      return { dtype: x.dtype, shape: x.shape };
    }
    case 'matmul': case 'linear': {
      arity(op, src, 2);
      const [a, b] = src;
      if (!isFloat(a.dtype) || !isFloat(b.dtype)) fail(op, `operands must be float, got ${desc(a)} and ${desc(b)}`);
      if (b.shape.length !== 2 || a.shape.length < 1) fail(op, `weight must be rank 2 and input rank ≥ 1, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      const k = a.shape[a.shape.length - 1];
      const [b0, b1] = b.shape;
      if (op === 'matmul') {
        if (a.shape.length < 2) fail(op, `left operand must be rank ≥ 2, got ${fmtShape(a.shape)}`);
        if (k !== b0) fail(op, `inner dims differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)}`);
        return { dtype: 'f32', shape: [...a.shape.slice(0, -1), b1] };
      }
      if (k !== b1) fail(op, `input ${fmtShape(a.shape)} does not match weight ${fmtShape(b.shape)} (expected last dim ${b1})`);
      return { dtype: 'f32', shape: [...a.shape.slice(0, -1), b0] };
    }
    case 'gather': {
      arity(op, src, 2);
      const [t, idx] = src;
      if (!isInt(idx.dtype)) fail(op, `indices must be integer, got ${desc(idx)}`);
      if (t.shape.length < 1) fail(op, 'table must have rank ≥ 1');
      return { dtype: t.dtype, shape: [...idx.shape, ...t.shape.slice(1)] };
    }
    case 'reshape': {
      arity(op, src, 1);
      const s = shapeArg(op, arg, 'shape');
      if (!sameSize(src[0].shape, s)) fail(op, `cannot reshape ${fmtShape(src[0].shape)} to ${fmtShape(s)}`);
      return { dtype: src[0].dtype, shape: s };
    }
    case 'broadcast': {
      arity(op, src, 1);
      const s = shapeArg(op, arg, 'shape');
      const from = src[0].shape;
      if (s.length < from.length) fail(op, `cannot broadcast ${fmtShape(from)} to lower rank ${fmtShape(s)}`);
      const off = s.length - from.length;
      from.forEach((d, i) => { if (d !== 1 && d !== s[i + off]) fail(op, `cannot broadcast ${fmtShape(from)} to ${fmtShape(s)}`); });
      return { dtype: src[0].dtype, shape: s };
    }
    case 'permute': {
      arity(op, src, 1);
      const p = shapeArg(op, arg, 'perm');
      const r = src[0].shape.length;
      if (p.length !== r || [...p].sort().some((v, i) => v !== i)) fail(op, `perm [${p.join(',')}] is not a permutation of rank ${r}`);
      return { dtype: src[0].dtype, shape: p.map((i) => src[0].shape[i as number]) };
    }
    case 'slice': {
      arity(op, src, 1);
      const x = src[0];
      const ax = axisArg(op, arg, x.shape.length);
      const st = int(op, arg, 'start'), en = int(op, arg, 'end');
      const d = x.shape[ax];
      if (typeof d !== 'number') return fail(op, `cannot slice symbolic dim "${d}"`);
      if (st < 0 || en > d || st >= en) fail(op, `range [${st}, ${en}) out of bounds for dim ${d}`);
      return { dtype: x.dtype, shape: x.shape.map((v, i) => (i === ax ? en - st : v)) };
    }
    case 'concat': {
      if (src.length < 1) return fail(op, 'needs at least one operand');
      const [f] = src;
      const ax = axisArg(op, arg, f.shape.length);
      let total = 0;
      for (const s of src) {
        if (s.dtype !== f.dtype) fail(op, `dtypes differ: ${s.dtype} vs ${f.dtype}`);
        if (s.shape.length !== f.shape.length || s.shape.some((d, i) => i !== ax && d !== f.shape[i])) fail(op, `shapes ${fmtShape(f.shape)} and ${fmtShape(s.shape)} differ outside axis ${ax}`);
        const d = s.shape[ax];
        if (typeof d !== 'number') fail(op, `cannot concatenate along symbolic dim "${d}"`);
        total += d as number;
      }
      return { dtype: f.dtype, shape: f.shape.map((v, i) => (i === ax ? total : v)) };
    }
    case 'kv_write': {
      arity(op, src, 4);
      const [cache, x, slots, pos] = src;
      if (!isFloat(cache.dtype) || cache.shape.length !== 4) fail(op, `cache must be a float [S, L, Hkv, D] tensor, got ${desc(cache)}`);
      if (!isFloat(x.dtype) || x.shape.length !== 3) fail(op, `new rows must be a float [N, Hkv, D] tensor, got ${desc(x)}`);
      if (x.shape[1] !== cache.shape[2] || x.shape[2] !== cache.shape[3]) fail(op, `new rows ${fmtShape(x.shape)} do not match cache ${fmtShape(cache.shape)} (Hkv, D)`);
      rowIndex(op, 'slots', slots, x.shape[0]);
      rowIndex(op, 'positions', pos, x.shape[0]);
      return { dtype: cache.dtype, shape: cache.shape };
    }
    case 'attention': {
      arity(op, src, 5);
      const [q, k, v, slots, pos] = src;
      if (!isFloat(q.dtype) || q.shape.length !== 3) fail(op, `q must be a float [N, Hq, D] tensor, got ${desc(q)}`);
      if (!isFloat(k.dtype) || k.shape.length !== 4) fail(op, `k must be a float [S, L, Hkv, D] tensor, got ${desc(k)}`);
      if (v.dtype !== k.dtype || !sameShape(v.shape, k.shape)) fail(op, `k ${desc(k)} and v ${desc(v)} differ`);
      if (q.shape[2] !== k.shape[3]) fail(op, `head dims differ: q ${fmtShape(q.shape)}, cache ${fmtShape(k.shape)}`);
      const hq = q.shape[1], hk = k.shape[2];
      if (typeof hq !== 'number' || typeof hk !== 'number' || hq % hk !== 0) fail(op, `query heads ${hq} must be a multiple of KV heads ${hk}`);
      rowIndex(op, 'slots', slots, q.shape[0]);
      rowIndex(op, 'positions', pos, q.shape[0]);
      if (num(op, arg, 'scale') <= 0) fail(op, 'scale must be > 0');
      return { dtype: 'f32', shape: q.shape };
    }
    case 'stop_gradient': {
      arity(op, src, 1);
      return { dtype: src[0].dtype, shape: src[0].shape };
    }
    case 'one_hot': {
      arity(op, src, 1);
      const [ids] = src;
      if (!isInt(ids.dtype)) fail(op, `ids must be integer, got ${desc(ids)}`);
      const depth = int(op, arg, 'depth');
      if (depth < 1) fail(op, `depth must be ≥ 1, got ${depth}`);
      return { dtype: 'f32', shape: [...ids.shape, depth] };
    }
    case 'scatter_add': {
      arity(op, src, 2);
      const [u, ids] = src;
      if (!isFloat(u.dtype) || u.shape.length !== 2) fail(op, `updates must be a float [M, R] tensor, got ${desc(u)}`);
      if (!isInt(ids.dtype) || ids.shape.length !== 1 || ids.shape[0] !== u.shape[0]) fail(op, `ids must be an integer [${u.shape[0]}] tensor, got ${desc(ids)}`);
      const rows = int(op, arg, 'rows');
      if (rows < 1) fail(op, `rows must be ≥ 1, got ${rows}`);
      return { dtype: 'f32', shape: [rows, u.shape[1]] };
    }
    case 'all_gather': {
      arity(op, src, 1);
      const ranks = int(op, arg, 'ranks');
      if (ranks < 1) fail(op, `ranks must be ≥ 1, got ${ranks}`);
      if (int(op, arg, 'seq') < 0) fail(op, 'seq must be ≥ 0');
      return { dtype: src[0].dtype, shape: [ranks, ...src[0].shape] };
    }
  }
  return fail(op, 'no inference rule');
}
