// Seeded random graphs for the PTX corpus. Graph i is built around OPS[i % OPS.length] (so every op
// appears in every 43 graphs) plus random neighbours in the shapes the scheduler cares about: chains
// of elementwise ops feeding norms (row fusion), shared subexpressions, reductions over every axis,
// slices of concats, gathers with i32 and i64 ids, contractions with every weight dtype and K both a
// multiple of the vector width and not, and casts between all dtypes. Symbolic batch dim: B.
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
import type { Rng } from '../support/random-graph.ts';
import { rng } from '../support/random-graph.ts';

const DIMS: Dim[] = [1, 2, 3, 5, 8, 16, 33, 64, 'B'];
const FLOATS: DType[] = ['f32', 'f16', 'bf16', 'fp8e4m3'];
const NUMERIC: DType[] = ['f32', 'f16', 'bf16', 'fp8e4m3', 'i32', 'i64'];

class Gen {
  readonly r: Rng;
  readonly pool: Node[] = [];
  readonly inputs: Node[] = [];
  private params = 0;
  constructor(r: Rng) { this.r = r; }

  shape(rank = this.r.int(1, 3)): Dim[] {
    // at most one symbolic dim, leading (the batch), like the speculators
    return Array.from({ length: rank }, (_, i) => {
      const d = this.r.pick(DIMS);
      return d === 'B' && i > 0 ? 4 : d;
    });
  }

  leaf(dtype: DType, shape: Shape): Node {
    const k = this.r.int(0, 4);
    if (k === 0 && dtype !== 'bool') return Node.make('const', [], { value: this.r.pick([0.5, -2, 3, 1e-3, 7]) }, dtype, shape);
    if (k <= 2 && shape.every((d) => typeof d === 'number')) return Node.make('param', [], { name: `w${this.params++}` }, dtype, shape);
    const x = Node.make('input', [], { name: `x${this.inputs.length}` }, dtype, shape);
    this.inputs.push(x);
    return x;
  }

  /** An existing node that fits (recent ones first, so chains form), else a fresh leaf. */
  want(dtypes: readonly DType[], shape?: Shape, rank?: [number, number]): Node {
    const fits = this.pool.filter((n) => dtypes.includes(n.dtype) && (!shape || sameShape(n.shape, shape))
      && (!rank || (n.shape.length >= rank[0] && n.shape.length <= rank[1])));
    if (fits.length && this.r.chance(0.8)) return this.r.pick(fits.slice(-4));
    return this.leaf(this.r.pick(dtypes), shape ?? this.shape(rank ? this.r.int(rank[0], rank[1]) : undefined));
  }

  staticAxis(x: Node): number | undefined {
    const axes = x.shape.flatMap((d, i) => (typeof d === 'number' ? [i] : []));
    return axes.length ? this.r.pick(axes) : undefined;
  }

  build(op: Op): Node {
    const r = this.r;
    if (op === 'input' || op === 'param' || op === 'const') return this.leaf(r.pick(NUMERIC), this.shape());
    if (UNARY.has(op)) return Node.make(op, [this.want(op === 'neg' || op === 'abs' ? NUMERIC : FLOATS)], op === 'gelu' ? { approx: r.pick(['erf', 'tanh']) } : null);
    if (BINARY.has(op)) {
      const x = this.want(op === 'cmpeq' ? DTYPES : NUMERIC);
      return Node.make(op, [x, this.want([x.dtype], x.shape)]);
    }
    switch (op) {
      case 'where': {
        const a = this.want(DTYPES);
        return Node.make('where', [this.want(['bool'], a.shape), a, this.want([a.dtype], a.shape)]);
      }
      case 'cast': return Node.make('cast', [this.want(DTYPES)], null, r.pick(DTYPES));
      case 'sum': case 'reduce_max': case 'argmax': {
        const x = this.want(NUMERIC, undefined, [1, 3]);
        return Node.make(op, [x], { axis: r.int(0, x.shape.length - 1) });
      }
      case 'topk_values': case 'topk_indices': {
        const x = this.want(FLOATS, undefined, [1, 3]);
        const last = x.shape[x.shape.length - 1];
        return Node.make(op, [x], { k: r.int(1, Math.min(4, typeof last === 'number' ? last : 4)) });
      }
      case 'softmax': return Node.make(op, [this.want(FLOATS, undefined, [1, 3])]);
      case 'rms_norm': case 'layer_norm': return Node.make(op, [this.want(FLOATS, undefined, [1, 3])], { eps: r.pick([1e-6, 1e-5]) });
      case 'linear': case 'matmul': {
        const a = this.want(FLOATS, undefined, op === 'matmul' ? [2, 3] : [1, 3]);
        const k = a.shape[a.shape.length - 1], n = r.pick([1, 3, 8, 16, 40]);
        const w = this.leaf(r.pick(FLOATS), op === 'matmul' ? [k, n] : [n, k]);
        return Node.make(op, [a, w]);
      }
      case 'gather': {
        const table = this.want(DTYPES, [r.pick([5, 16, 100]), ...this.shape(r.int(0, 2))]);
        return Node.make('gather', [table, this.want(['i32', 'i64'], undefined, [1, 2])]);
      }
      case 'stop_gradient': return Node.make(op, [this.want(DTYPES)]);
      case 'one_hot': return Node.make(op, [this.want(['i32', 'i64'], undefined, [0, 2])], { depth: r.pick([1, 5, 16, 100]) });
      case 'scatter_add': {
        const u = this.want(FLOATS, undefined, [2, 2]);
        return Node.make(op, [u, this.want(['i32', 'i64'], [u.shape[0]])], { rows: r.pick([1, 5, 16, 100]) });
      }
      case 'reshape': {
        const x = this.want(DTYPES);
        const dims = [...x.shape];
        if (r.chance(0.5)) dims.splice(r.int(0, dims.length), 0, 1);
        else if (dims.length >= 2 && dims.every((d) => typeof d === 'number')) dims.splice(0, 2, (dims[0] as number) * (dims[1] as number));
        return Node.make('reshape', [x], { shape: dims });
      }
      case 'broadcast': {
        const x = this.want(DTYPES, undefined, [1, 2]);
        const grown = x.shape.map((d) => (d === 1 ? r.pick([3, 8]) : d));
        return Node.make('broadcast', [x], { shape: [...(r.chance(0.5) ? [r.pick([2, 'B'] as Dim[])] : []), ...grown] });
      }
      case 'permute': {
        const x = this.want(DTYPES, undefined, [2, 3]);
        return Node.make('permute', [x], { perm: x.shape.map((_, i) => i).sort(() => r.next() - 0.5) });
      }
      case 'slice': case 'concat': {
        const x = this.want(DTYPES, undefined, [1, 3]);
        const axis = this.staticAxis(x);
        if (axis === undefined) throw new IRError('no static axis');
        const d = x.shape[axis] as number;
        if (op === 'slice') { const start = r.int(0, d - 1); return Node.make('slice', [x], { axis, start, end: r.int(start + 1, d) }); }
        const more = Array.from({ length: r.int(1, 3) }, () => (r.chance(0.4) ? x : this.want([x.dtype], x.shape.map((v, i) => (i === axis ? r.pick([1, 2, 7]) : v)))));
        return Node.make('concat', [x, ...more], { axis });
      }
      case 'kv_write': case 'attention': {
        // a fresh cache input (donation: nothing else reads it), one row (two rows at one [slot, position]
        // would race; tests/unit/codegen/sim-decoder.test.ts covers many rows), slot and position clamped
        // into range (the position may be −1: a padding row)
        const S = r.int(1, 3), L = r.pick([1, 5, 40]), Hk = r.pick([1, 2]), D = r.pick([2, 16, 33]);
        const kv = r.pick(FLOATS.filter((d) => d !== 'fp8e4m3'));
        const rowsOf = (lo: number, hi: number): Node => {
          const x = this.want(['i32'], [1]);
          const c = (v: number): Node => Node.make('const', [], { value: v }, 'i32', [1]);
          return Node.make('min', [Node.make('max', [x, c(lo)]), c(hi)]);
        };
        const slots = rowsOf(0, S - 1), pos = rowsOf(-1, L - 1);
        const cache = (): Node => {
          const c = Node.make('input', [], { name: `x${this.inputs.length}` }, kv, [S, L, Hk, D]);
          this.inputs.push(c);
          return Node.make('kv_write', [c, this.want(FLOATS, [1, Hk, D]), slots, pos]);
        };
        if (op === 'kv_write') return cache();
        const q = this.want(FLOATS, [1, Hk * r.pick([1, 2, 3]), D]);
        return Node.make('attention', [q, cache(), cache(), slots, pos], { scale: r.pick([0.125, 1]) });
      }
    }
    // collectives are not kernels: on CUDA they are NCCL calls on the stream (runtime/nccl), not PTX
    if (op === 'all_gather') throw new IRError('collectives have no PTX');
    throw new Error(`random-graphs: no builder for ${op}`);
  }
}

/** Graph `i` of the corpus: its focus op, then a few random ones around it. */
export function corpusGraph(i: number): Graph {
  const r = rng(0x5eed + i * 7919);
  const g = new Gen(r);
  const ops: Op[] = [OPS[i % OPS.length], ...Array.from({ length: r.int(2, 7) }, () => r.pick(OPS))];
  for (const op of ops) {
    try { g.pool.push(g.build(op)); } catch (e) { if (!(e instanceof IRError)) throw e; }
  }
  if (g.pool.length === 0) g.pool.push(g.leaf('f32', g.shape()));
  const last = g.pool[g.pool.length - 1];
  const outs = [last, ...g.pool.filter((n) => n !== last && r.chance(0.3))];
  return makeGraph(`rand${i}`, g.inputs, outs.map((node, k) => ({ name: `out${k}`, node })));
}

export const CORPUS_SIZE = 240;
