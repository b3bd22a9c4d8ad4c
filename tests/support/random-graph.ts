// Seeded random graphs for property tests: every op in OPS, static and symbolic dims, all dtypes, awkward
// names (keywords, JSON escapes) and awkward numbers (-0, 1e-7, 1e21, NaN, ±inf). Built with Node.make
// only, like the DSL, so every graph is one the DSL could have produced.
import type { DType } from '../../compiler/ir/dtype.ts';
import { DTYPES } from '../../compiler/ir/dtype.ts';
import { IRError } from '../../compiler/ir/errors.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import { makeGraph } from '../../compiler/ir/graph.ts';
import { Node } from '../../compiler/ir/node.ts';
import type { Op } from '../../compiler/ir/ops.ts';
import { BINARY, OPS, UNARY } from '../../compiler/ir/ops.ts';
import type { Dim, Shape } from '../../compiler/ir/shape.ts';
import { sameShape } from '../../compiler/ir/shape.ts';

export interface Rng { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean }

/** mulberry32: tiny, fast, and good enough to drive generators reproducibly from a seed. */
export function rng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, pick: (xs) => xs[int(0, xs.length - 1)], chance: (p) => next() < p };
}

const STATIC = [1, 2, 3, 4, 5, 8];
// 'inf' and 'graph' are keywords of the textual IR, so they exercise names-that-look-like-keywords
const SYMBOLIC = ['B', 'S', 'inf', 'graph'];
const IDENTS = ['x', 'hidden', 'tokens', 'return', 'graph', 'const', 'param', 'nan', 'true', '_a1', 'Q'];
const PARAM_NAMES = ['w', 'head.0.weight', 'a"quote', 'back\\slash', 'tab\tnew\nline', '\u0001ctl', 'ünïcødé', '😀', ' spaced ', '{[(%:=,)]}', '// -----', '\u2028'];
const VALUES = [0, -0, 1, -1, 0.5, 1e-7, 1e21, -1e21, NaN, Infinity, -Infinity, 5e-324, 1.7976931348623157e308, 0.1, 3.4028234663852886e38, 123456789, -2.5e-8];
const FLOATS: DType[] = ['f32', 'f16', 'bf16', 'fp8e4m3'];
const INTS: DType[] = ['i32', 'i64'];
const NON_BOOL = DTYPES.filter((d) => d !== 'bool');

type Want = { dtype?: readonly DType[]; rank?: [number, number]; shape?: Shape; test?: (n: Node) => boolean };

class Builder {
  readonly r: Rng;
  readonly pool: Node[] = [];
  readonly inputs: Node[] = [];
  readonly params = new Map<string, Node>();
  /** build all_gather nodes (the interpreter and the printer take them; the PTX corpus, which has no collectives, does not) */
  readonly collectives: boolean;
  constructor(r: Rng, collectives = false) { this.r = r; this.collectives = collectives; }

  dim = (): Dim => (this.r.chance(0.3) ? this.r.pick(SYMBOLIC) : this.r.pick(STATIC));
  shape = (rank: number): Dim[] => Array.from({ length: rank }, this.dim);
  value = (): number => (this.r.chance(0.7) ? this.r.pick(VALUES) : (this.r.next() - 0.5) * 10 ** this.r.int(-12, 12));

  leaf(dtype: DType, shape: Shape): Node {
    const k = this.r.int(0, 2);
    if (k === 0) return Node.make('const', [], { value: this.value() }, dtype, shape);
    if (k === 1) {
      let name = this.r.pick(PARAM_NAMES);
      const fits = (n: Node | undefined): boolean => !n || (n.dtype === dtype && sameShape(n.shape, shape));
      for (let i = 2; !fits(this.params.get(name)); i++) name = `${this.r.pick(PARAM_NAMES)}#${i}`;
      const p = Node.make('param', [], { name }, dtype, shape);
      this.params.set(name, p);
      return p;
    }
    let name = this.r.pick(IDENTS);
    for (let i = 2; this.inputs.some((n) => n.arg!.name === name); i++) name = `${this.r.pick(IDENTS)}_${i}`;
    const x = Node.make('input', [], { name }, dtype, shape);
    this.inputs.push(x);
    return x;
  }

  /** A fresh program input. */
  leafInput(dtype: DType, shape: Shape): Node {
    let name = this.r.pick(IDENTS);
    for (let i = 2; this.inputs.some((n) => n.arg!.name === name); i++) name = `${this.r.pick(IDENTS)}_${i}`;
    const x = Node.make('input', [], { name }, dtype, shape);
    this.inputs.push(x);
    return x;
  }

  /** An operand: often an existing node that fits, otherwise a fresh leaf of a fitting type. */
  want(w: Want): Node {
    const ok = (n: Node): boolean => (!w.dtype || w.dtype.includes(n.dtype)) && (!w.shape || sameShape(n.shape, w.shape))
      && (!w.rank || (n.shape.length >= w.rank[0] && n.shape.length <= w.rank[1])) && (!w.test || w.test(n));
    const fits = this.pool.filter(ok);
    if (fits.length && this.r.chance(0.75)) return this.r.pick(fits.slice(-6));
    for (let i = 0; i < 20; i++) {
      const n = this.leaf(this.r.pick(w.dtype ?? DTYPES), w.shape ?? this.shape(this.r.int(...(w.rank ?? [0, 3]))));
      if (!w.test || w.test(n)) return n;
    }
    throw new IRError('no fitting operand'); // skipped by the caller
  }

  same = (x: Node): Node => this.want({ dtype: [x.dtype], shape: x.shape });

  build(op: Op): Node {
    const r = this.r;
    if (op === 'input' || op === 'param' || op === 'const') return this.leaf(r.pick(DTYPES), this.shape(r.int(0, 3)));
    if (UNARY.has(op)) {
      const x = this.want({ dtype: op === 'neg' || op === 'abs' ? NON_BOOL : FLOATS });
      return Node.make(op, [x], op === 'gelu' ? { approx: r.pick(['erf', 'tanh']) } : null);
    }
    if (BINARY.has(op)) {
      const x = this.want({ dtype: op === 'cmpeq' ? DTYPES : NON_BOOL });
      return Node.make(op, [x, this.same(x)]);
    }
    const axisOf = (x: Node): number => r.int(0, x.shape.length - 1);
    const staticAxes = (x: Node): number[] => x.shape.flatMap((d, i) => (typeof d === 'number' && d > 0 ? [i] : []));
    switch (op) {
      case 'where': {
        const a = this.want({});
        return Node.make('where', [this.want({ dtype: ['bool'], shape: a.shape }), a, this.same(a)]);
      }
      case 'cast': return Node.make('cast', [this.want({})], null, r.pick(DTYPES));
      case 'sum': case 'reduce_max': case 'argmax': {
        const x = this.want({ dtype: NON_BOOL, rank: [1, 3] });
        return Node.make(op, [x], { axis: axisOf(x) });
      }
      case 'topk_values': case 'topk_indices': {
        const x = this.want({ dtype: FLOATS, rank: [1, 3] });
        const last = x.shape[x.shape.length - 1];
        return Node.make(op, [x], { k: r.int(1, typeof last === 'number' ? last : 4) });
      }
      case 'softmax': return Node.make(op, [this.want({ dtype: FLOATS, rank: [1, 3] })]);
      case 'rms_norm': case 'layer_norm':
        return Node.make(op, [this.want({ dtype: FLOATS, rank: [1, 3] })], { eps: r.pick([1e-6, 1e-5, 0, 1e-7, 1e21, 0.1]) });
      case 'matmul': case 'linear': {
        const a = this.want({ dtype: FLOATS, rank: op === 'matmul' ? [2, 3] : [1, 3] });
        const k = a.shape[a.shape.length - 1], n = this.dim();
        return Node.make(op, [a, this.want({ dtype: FLOATS, shape: op === 'matmul' ? [k, n] : [n, k] })]);
      }
      case 'gather': return Node.make('gather', [this.want({ rank: [1, 3] }), this.want({ dtype: INTS, rank: [0, 2] })]);
      case 'stop_gradient': return Node.make(op, [this.want({})]);
      case 'one_hot': return Node.make(op, [this.want({ dtype: INTS, rank: [0, 2] })], { depth: r.pick([1, 3, 7, 16]) });
      case 'scatter_add': {
        const u = this.want({ dtype: FLOATS, rank: [2, 2] });
        return Node.make(op, [u, this.want({ dtype: INTS, shape: [u.shape[0]] })], { rows: r.pick([1, 4, 9]) });
      }
      case 'reshape': {
        const x = this.want({});
        const dims = [...x.shape].sort(() => r.next() - 0.5);
        if (r.chance(0.5)) dims.splice(r.int(0, dims.length), 0, 1);
        return Node.make('reshape', [x], { shape: dims });
      }
      case 'broadcast': {
        const x = this.want({ rank: [0, 2] });
        const grown = x.shape.map((d) => (d === 1 && r.chance(0.6) ? this.dim() : d));
        return Node.make('broadcast', [x], { shape: [...this.shape(r.int(0, 2)), ...grown] });
      }
      case 'permute': {
        const x = this.want({ rank: [0, 3] });
        return Node.make('permute', [x], { perm: x.shape.map((_, i) => i).sort(() => r.next() - 0.5) });
      }
      case 'slice': {
        const x = this.want({ rank: [1, 3], test: (n) => staticAxes(n).length > 0 });
        const axis = r.pick(staticAxes(x)), d = x.shape[axis] as number;
        const start = r.int(0, d - 1);
        return Node.make('slice', [x], { axis, start, end: r.int(start + 1, d) });
      }
      case 'concat': {
        const x = this.want({ rank: [1, 3], test: (n) => staticAxes(n).length > 0 });
        const axis = r.pick(staticAxes(x));
        const more = Array.from({ length: r.int(0, 2) }, () => {
          const shape = x.shape.map((d, i) => (i === axis ? r.pick(STATIC) : d));
          return this.want({ dtype: [x.dtype], shape });
        });
        return Node.make('concat', [x, ...more], { axis });
      }
      case 'kv_write': case 'attention': {
        // caches are fresh inputs of static shape read by nothing else (the compiler donates them)
        const n = this.dim(), hk = r.pick(STATIC), d = r.pick(STATIC);
        const rowsIdx = (): Node => this.want({ dtype: ['i32'], shape: [n] });
        const slots = rowsIdx(), pos = rowsIdx();
        // one dtype and shape for both caches (attention needs k and v alike)
        const kvType = r.pick(['f32', 'bf16', 'f16'] as DType[]), kvShape = [r.pick(STATIC), r.pick(STATIC), hk, d];
        const cache = (): Node => {
          const c = this.leafInput(kvType, kvShape);
          return Node.make('kv_write', [c, this.want({ dtype: FLOATS, shape: [n, hk, d] }), slots, pos]);
        };
        if (op === 'kv_write') return cache();
        const q = this.want({ dtype: FLOATS, shape: [n, hk * r.pick([1, 2]), d] });
        return Node.make('attention', [q, cache(), cache(), slots, pos], { scale: r.pick([0.125, 1, 0.3]) });
      }
    }
    if (op === 'all_gather') {
      if (!this.collectives) throw new IRError('collectives are off');
      return Node.make('all_gather', [this.want({})], { ranks: r.pick([1, 2, 8]), seq: r.int(0, 3) });
    }
    throw new Error(`random-graph: no builder for ${op}`);
  }
}

/** A random graph of up to `size` generated nodes (plus the leaves they need). */
export function randomGraph(seed: number, size = 10, o: { collectives?: boolean } = {}): Graph {
  const r = rng(seed);
  const b = new Builder(r, o.collectives);
  const steps = r.int(1, size);
  for (let i = 0; i < steps; i++) {
    try {
      b.pool.push(b.build(r.pick(OPS)));
    } catch (e) {
      if (!(e instanceof IRError)) throw e; // an unlucky combination (e.g. reshape to the wrong rank): try another op
    }
  }
  if (b.pool.length === 0) b.pool.push(b.leaf(r.pick(DTYPES), b.shape(r.int(0, 3))));
  const names: string[] = [];
  const outputs = Array.from({ length: r.int(1, 3) }, () => {
    let name = r.pick(IDENTS);
    for (let i = 2; names.includes(name); i++) name = `${r.pick(IDENTS)}_${i}`;
    names.push(name);
    return { name, node: r.chance(0.6) ? b.pool[b.pool.length - 1] : r.pick(b.pool) };
  });
  return makeGraph(r.pick(IDENTS), b.inputs, outputs);
}
