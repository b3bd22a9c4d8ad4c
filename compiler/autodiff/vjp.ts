// Reverse-mode rules beside the op table (tinygrad's gradient.py): for a node n and the gradient g of the
// loss with respect to n (f32, n's shape), the gradient with respect to each operand, or null for none.
// Every gradient is f32 whatever the primal's storage dtype (bf16 weights get f32 gradients: the master
// weights are f32). A rule may read the primal node itself (exp, tanh, sigmoid, norms reuse their output).
import { isFloat } from '../ir/dtype.ts';
import { IRError } from '../ir/errors.ts';
import { Node } from '../ir/node.ts';
import type { Op } from '../ir/ops.ts';
import type { Shape } from '../ir/shape.ts';
import { fmtShape, sameShape } from '../ir/shape.ts';

export type VjpRule = (n: Node, g: Node) => readonly (Node | null)[];

const mk = Node.make;
export const f32 = (x: Node): Node => (x.dtype === 'f32' ? x : mk('cast', [x], null, 'f32'));
export const konst = (v: number, shape: Shape): Node => mk('const', [], { value: v }, 'f32', shape);
const mul = (a: Node, b: Node): Node => mk('mul', [a, b]);
const add = (a: Node, b: Node): Node => mk('add', [a, b]);
const sub = (a: Node, b: Node): Node => mk('sub', [a, b]);
const div = (a: Node, b: Node): Node => mk('div', [a, b]);
const neg = (a: Node): Node => mk('neg', [a]);
const scale = (a: Node, v: number): Node => mul(a, konst(v, a.shape));
const zerosLike = (a: Node): Node => konst(0, a.shape);
const bcast = (x: Node, shape: Shape): Node => (sameShape(x.shape, shape) ? x : mk('broadcast', [x], { shape: [...shape] }));

/** A per-row value (the reduced axis removed) broadcast back over `like` along `axis`. */
export function expandAxis(r: Node, like: Shape, axis: number): Node {
  const kept = like.map((d, i) => (i === axis ? 1 : d));
  const re = sameShape(r.shape, kept) ? r : mk('reshape', [r], { shape: kept });
  return bcast(re, like);
}
const lastLen = (n: Node): number => {
  const d = n.shape[n.shape.length - 1];
  if (typeof d !== 'number') throw new IRError(`autodiff: ${n} reduces over symbolic dim "${d}"; bind it to a size first`);
  return d;
};
/** mean over the last axis, kept as a broadcast of the operand's shape */
const rowMean = (x: Node): Node => {
  const ax = x.shape.length - 1;
  return expandAxis(scale(mk('sum', [x], { axis: ax }), 1 / lastLen(x)), x.shape, ax);
};
/** x as a [M, K] matrix (leading dims folded; they must be static when there are several) */
function rows2(x: Node): Node {
  if (x.shape.length === 2) return x;
  const lead = x.shape.slice(0, -1);
  if (lead.some((d) => typeof d !== 'number')) throw new IRError(`autodiff: cannot fold the leading dims of ${x} into rows (symbolic)`);
  return mk('reshape', [x], { shape: [lead.reduce<number>((a, b) => a * (b as number), 1), x.shape[x.shape.length - 1]] });
}
const transpose = (x: Node): Node => mk('permute', [x], { perm: [1, 0] });

const SQRT_2_OVER_PI = 0.7978845608028654;
const INV_SQRT_2PI = 0.3989422804014327;

function geluGrad(x: Node, approx: string): Node {
  if (approx === 'tanh') {
    // d/dx ½x(1+tanh u), u = c(x + 0.044715x³): ½(1+t) + ½x(1−t²)·c(1 + 3·0.044715x²)
    const x2 = mul(x, x);
    const u = scale(add(x, scale(mul(x2, x), 0.044715)), SQRT_2_OVER_PI);
    const t = mk('tanh', [u]);
    const one = konst(1, x.shape);
    const a = scale(add(one, t), 0.5);
    const du = scale(add(one, scale(x2, 3 * 0.044715)), SQRT_2_OVER_PI);
    return add(a, mul(scale(x, 0.5), mul(sub(one, mul(t, t)), du)));
  }
  // Φ(x) + x·φ(x) with Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^(−x²/2)/√(2π)
  const phi = scale(mk('exp', [scale(mul(x, x), -0.5)]), INV_SQRT_2PI);
  const cdf = scale(add(konst(1, x.shape), mk('erf', [scale(x, Math.SQRT1_2)])), 0.5);
  return add(cdf, mul(x, phi));
}

const none = (n: Node): (Node | null)[] => n.src.map(() => null);

export const VJP: Partial<Record<Op, VjpRule>> = {
  neg: (_n, g) => [neg(g)],
  exp: (n, g) => [mul(g, f32(n))],
  log: (n, g) => [div(g, f32(n.src[0]))],
  sqrt: (n, g) => [div(g, scale(f32(n), 2))],
  rsqrt: (n, g) => { const y = f32(n); return [mul(g, scale(mul(mul(y, y), y), -0.5))]; },
  tanh: (n, g) => { const y = f32(n); return [mul(g, sub(konst(1, y.shape), mul(y, y)))]; },
  erf: (n, g) => { const x = f32(n.src[0]); return [mul(g, scale(mk('exp', [neg(mul(x, x))]), 2 / Math.sqrt(Math.PI)))]; },
  sigmoid: (n, g) => { const y = f32(n); return [mul(g, mul(y, sub(konst(1, y.shape), y)))]; },
  gelu: (n, g) => [mul(g, geluGrad(f32(n.src[0]), n.argOf<string>('approx')))],
  abs: (n, g) => { const x = f32(n.src[0]); return [mk('where', [mk('cmplt', [x, zerosLike(x)]), neg(g), g])]; },
  recip: (n, g) => { const y = f32(n); return [neg(mul(g, mul(y, y)))]; },
  add: (_n, g) => [g, g],
  sub: (_n, g) => [g, neg(g)],
  mul: (n, g) => [mul(g, f32(n.src[1])), mul(g, f32(n.src[0]))],
  div: (n, g) => { const b = f32(n.src[1]); return [div(g, b), neg(div(mul(g, f32(n)), b))]; },
  // ties send the gradient to the first operand (PyTorch splits it; either is a subgradient)
  max: (n, g) => { const lt = mk('cmplt', [f32(n.src[0]), f32(n.src[1])]), z = zerosLike(g); return [mk('where', [lt, z, g]), mk('where', [lt, g, z])]; },
  min: (n, g) => { const lt = mk('cmplt', [f32(n.src[1]), f32(n.src[0])]), z = zerosLike(g); return [mk('where', [lt, z, g]), mk('where', [lt, g, z])]; },
  cmplt: none, cmpeq: none, argmax: none, topk_indices: none, one_hot: none, stop_gradient: none,
  where: (n, g) => { const z = zerosLike(g); return [null, mk('where', [n.src[0], g, z]), mk('where', [n.src[0], z, g])]; },
  cast: (n, g) => [isFloat(n.src[0].dtype) && isFloat(n.dtype) ? g : null],
  sum: (n, g) => [expandAxis(g, n.src[0].shape, n.argOf<number>('axis'))],
  reduce_max: (n, g) => {
    const x = f32(n.src[0]), ax = n.argOf<number>('axis');
    const hit = mk('cmpeq', [x, expandAxis(f32(n), x.shape, ax)]);
    return [mk('where', [hit, expandAxis(g, x.shape, ax), zerosLike(x)])];
  },
  softmax: (n, g) => {
    const y = f32(n), ax = y.shape.length - 1;
    return [mul(y, sub(g, expandAxis(mk('sum', [mul(g, y)], { axis: ax }), y.shape, ax)))];
  },
  // y = x·r, r = (mean x² + eps)^−½: dx = r·(g − y·mean(g·y)), r = y/x recomputed as the row rsqrt
  rms_norm: (n, g) => {
    const x = f32(n.src[0]), y = f32(n);
    const r = mk('rsqrt', [add(rowMean(mul(x, x)), konst(n.argOf<number>('eps'), x.shape))]);
    return [mul(r, sub(g, mul(y, rowMean(mul(g, y)))))];
  },
  layer_norm: (n, g) => {
    const x = f32(n.src[0]), y = f32(n);
    const xc = sub(x, rowMean(x));
    const r = mk('rsqrt', [add(rowMean(mul(xc, xc)), konst(n.argOf<number>('eps'), x.shape))]);
    return [mul(r, sub(sub(g, rowMean(g)), mul(y, rowMean(mul(g, y)))))];
  },
  // linear: y[..., N] = x[..., K]·w[N, K]ᵀ → dx = g·w, dw = gᵀ·x over every row (batch × positions)
  linear: (n, g) => {
    const [x, w] = n.src;
    const dx = mk('matmul', [g.shape.length >= 2 ? g : mk('reshape', [g], { shape: [1, ...g.shape] }), w]);
    const dxs = sameShape(dx.shape, x.shape) ? dx : mk('reshape', [dx], { shape: [...x.shape] });
    const dw = mk('matmul', [transpose(rows2(g)), f32(rows2(x))]);
    return [dxs, dw];
  },
  // matmul: y[..., M, N] = a[..., M, K]·b[K, N] → da = g·bᵀ (linear(g, b)), db = aᵀ·g over every row
  matmul: (n, g) => {
    const [a, b] = n.src;
    return [mk('linear', [g, b]), mk('matmul', [transpose(f32(rows2(a))), rows2(g)])];
  },
  // gather rows of a table: the table's gradient scatter-adds g's rows back by id
  gather: (n, g) => {
    const [table, ids] = n.src;
    const rowShape = table.shape.slice(1);
    const idLen = ids.shape.reduce<number>((a, d) => {
      if (typeof d !== 'number' && ids.shape.length !== 1) throw new IRError(`autodiff: gather ids ${fmtShape(ids.shape)} must be static to fold into rows`);
      return typeof d === 'number' ? a * d : a;
    }, 1);
    if (rowShape.some((d) => typeof d !== 'number')) throw new IRError(`autodiff: gather table ${table} has symbolic row dims`);
    const R = rowShape.reduce<number>((a, d) => a * (d as number), 1);
    const M = ids.shape.length === 1 ? ids.shape[0] : idLen;
    const flatIds = ids.shape.length === 1 ? ids : mk('reshape', [ids], { shape: [M] });
    const u = sameShape(g.shape, [M, R]) ? g : mk('reshape', [g], { shape: [M, R] });
    const rows = table.shape[0];
    if (typeof rows !== 'number') throw new IRError(`autodiff: gather table ${table} has a symbolic row count`);
    const sa = mk('scatter_add', [u, flatIds], { rows });
    return [sameShape(sa.shape, table.shape) ? sa : mk('reshape', [sa], { shape: [...table.shape] }), null];
  },
  scatter_add: (n, g) => [mk('gather', [g, n.src[1]]), null],
  reshape: (n, g) => [mk('reshape', [g], { shape: [...n.src[0].shape] })],
  broadcast: (n, g) => {
    const from = n.src[0].shape, to = n.shape, off = to.length - from.length;
    let r = g;
    for (let i = 0; i < off; i++) r = mk('sum', [r], { axis: 0 });
    for (let i = from.length - 1; i >= 0; i--) if (from[i] === 1 && to[i + off] !== 1) r = mk('sum', [r], { axis: i });
    return [sameShape(r.shape, from) ? r : mk('reshape', [r], { shape: [...from] })];
  },
  permute: (n, g) => {
    const p = n.argOf<number[]>('perm');
    const inv = new Array<number>(p.length);
    p.forEach((v, i) => { inv[v] = i; });
    return [mk('permute', [g], { perm: inv })];
  },
  // slice → the gradient padded with zeros back to the operand's extent along the axis
  slice: (n, g) => {
    const x = n.src[0], ax = n.argOf<number>('axis'), st = n.argOf<number>('start'), en = n.argOf<number>('end');
    const d = x.shape[ax] as number;
    const part = (len: number) => konst(0, x.shape.map((v, i) => (i === ax ? len : v)));
    const parts = [...(st > 0 ? [part(st)] : []), g, ...(en < d ? [part(d - en)] : [])];
    return [parts.length === 1 ? g : mk('concat', parts, { axis: ax })];
  },
  concat: (n, g) => {
    const ax = n.argOf<number>('axis');
    let at = 0;
    return n.src.map((s) => {
      const len = s.shape[ax] as number;
      const piece = len === g.shape[ax] ? g : mk('slice', [g], { axis: ax, start: at, end: at + len });
      at += len;
      return isFloat(s.dtype) ? piece : null;
    });
  },
};

/** Ops with a rule (some of which pass no gradient: comparisons, argmax, one_hot, stop_gradient). */
export const hasVjp = (op: Op): boolean => VJP[op] !== undefined;
