// The expression emitter: the value of an IR node at given coordinates, as straight-line PTX.
// Nodes the schedule inlined are recomputed from their operands (movement ops are index maps, concat
// a predicated selection, gather a data-dependent row); materialized nodes are loads; row statistics
// come from the kernel template (`custom`). Values are memoized per (node, coordinates) inside the
// current scope, so a shared subexpression at the same element is emitted once.
import { itemSize } from '../../ir/dtype.ts';
import type { DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/node.ts';
import { roundTo } from '../../ir/numerics.ts';
import { ELEMENTWISE } from '../../ir/ops.ts';
import type { Shape } from '../../ir/shape.ts';
import type { Ix } from './index-math.ts';
import { address, ixKey, ixOperand, ixReg, ixShift, linearIndex } from './index-math.ts';
import { emitElementwise, emitSelect } from './isa.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitConst, emitLoad, regTypeOf } from './legalize.ts';
import { mapBroadcast, mapPermute, mapReshape, mapSlice } from './movement.ts';

export type Source =
  | { readonly kind: 'inline' }
  /** coherent: written earlier by this same kernel, so read through L1 (not the .nc path) */
  | { readonly kind: 'buffer'; readonly id: string; readonly coherent: boolean }
  | { readonly kind: 'custom'; readonly emit: (c: readonly Ix[]) => string };

const roundFor = (d: DType) => (x: number): number => (d === 'f32' || d === 'f16' || d === 'bf16' || d === 'fp8e4m3' ? roundTo(d, x) : x);

export class ExprEmitter {
  readonly env: KernelEnv;
  private readonly source: (n: Node) => Source;
  private readonly scopes: Map<string, string>[] = [new Map()];

  constructor(env: KernelEnv, source: (n: Node) => Source) {
    this.env = env;
    this.source = source;
  }

  /** Run `fn` with a fresh memo scope (values computed inside do not leak out: loop bodies, branches). */
  scoped<T>(fn: () => T): T {
    this.scopes.push(new Map());
    try { return fn(); } finally { this.scopes.pop(); }
  }

  value(n: Node, c: readonly Ix[]): string {
    const key = `${n.id}@${c.map(ixKey).join(',')}`;
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const hit = this.scopes[i].get(key);
      if (hit !== undefined) return hit;
    }
    const s: Source = n.op === 'const' ? { kind: 'inline' } : this.source(n);
    const v = s.kind === 'buffer' ? this.load(s.id, n.dtype, n.shape, c, s.coherent)
      : s.kind === 'custom' ? s.emit(c) : this.compute(n, c);
    this.scopes[this.scopes.length - 1].set(key, v);
    return v;
  }

  /** Make `v` the value of `n` at `c` in the current scope (a caller that loaded it already, as part of a vector). */
  seed(n: Node, c: readonly Ix[], v: string): void {
    this.scopes[this.scopes.length - 1].set(`${n.id}@${c.map(ixKey).join(',')}`, v);
  }

  /** Element `c` of a buffer holding a row-major tensor of `shape`. */
  load(id: string, dtype: DType, shape: Shape, c: readonly Ix[], coherent: boolean): string {
    const base = this.env.buffer(id);
    const addr = address(this.env.b, base, linearIndex(this.env, shape, c), itemSize(dtype));
    return emitLoad(this.env.b, dtype, addr, !coherent);
  }

  /** Compute `n` from its operands, whatever its source (a row kernel recomputing its own element). */
  compute(n: Node, c: readonly Ix[]): string {
    const b = this.env.b;
    switch (n.op) {
      case 'const': return emitConst(b, n.dtype, n.argOf<number>('value'), roundFor(n.dtype));
      case 'reshape': return this.value(n.src[0], mapReshape(this.env, n, c));
      case 'broadcast': return this.value(n.src[0], mapBroadcast(n, c));
      case 'permute': return this.value(n.src[0], mapPermute(n, c));
      case 'slice': return this.value(n.src[0], mapSlice(n, c));
      case 'concat': return this.concat(n, c);
      case 'gather': return this.gather(n, c);
      case 'one_hot': return this.oneHot(n, c);
    }
    if (!ELEMENTWISE.has(n.op)) throw new Error(`codegen: ${n} is not materialized but cannot be inlined`);
    return emitElementwise(b, n, n.src.map((s) => this.value(s, c)));
  }

  /** Only operands the coordinate can reach are read; several → clamp each index and select. */
  private concat(n: Node, c: readonly Ix[]): string {
    const b = this.env.b;
    const ax = n.argOf<number>('axis');
    const x = c[ax];
    const parts: { src: Node; off: number; len: number }[] = [];
    let off = 0;
    for (const s of n.src) {
      const len = s.shape[ax] as number;
      if (off < x.hi && off + len > x.lo) parts.push({ src: s, off, len });
      off += len;
    }
    const at = (i: Ix): Ix[] => c.map((v, k) => (k === ax ? i : v));
    if (parts.length === 1) {
      const p = parts[0];
      const s = ixShift(x, -p.off);
      return this.value(p.src, at({ ...s, lo: Math.max(s.lo, 0), hi: Math.min(s.hi, p.len) }));
    }
    const xr = ixOperand(b, x);
    const vals = parts.map((p) => {
      const t = b.reg('u32');
      if (p.off === 0) b.ins('min.u32', t, xr, String(p.len - 1));
      else {
        b.ins('sub.s32', t, xr, String(p.off));
        b.ins('max.s32', t, t, '0');
        b.ins('min.s32', t, t, String(p.len - 1));
      }
      return this.value(p.src, at(ixReg(t, p.len)));
    });
    let res = vals[vals.length - 1];
    for (let i = parts.length - 2; i >= 0; i--) {
      const p = b.reg('pred');
      b.ins('setp.lt.u32', p, xr, String(parts[i].off + parts[i].len));
      res = emitSelect(b, regTypeOf(n.dtype), p, vals[i], res);
    }
    return res;
  }

  /** one_hot(ids)[i..., j] = ids[i...] == j ? 1 : 0 (ids outside [0, depth) give a zero row). */
  private oneHot(n: Node, c: readonly Ix[]): string {
    const b = this.env.b;
    const ids = n.src[0];
    const id = this.value(ids, c.slice(0, -1));
    const j = ixOperand(b, c[c.length - 1]);
    const p = b.reg('pred');
    if (ids.dtype === 'i64') {
      const j64 = b.reg('s64');
      b.ins('cvt.u64.u32', j64, j);
      b.ins('setp.eq.s64', p, id, j64);
    } else b.ins('setp.eq.s32', p, id, j);
    const out = b.reg('f32');
    b.ins('selp.f32', out, '0f3F800000', '0f00000000', p);
    return out;
  }

  /**
   * table[ids[i...], rest...]. The host validates ids against [0, V) before launch; the clamp below
   * only guarantees that a bad id can never make the kernel read outside the table.
   */
  private gather(n: Node, c: readonly Ix[]): string {
    const b = this.env.b;
    const [table, ids] = n.src;
    const ir = ids.shape.length;
    const id = this.value(ids, c.slice(0, ir));
    const rows = table.shape[0];
    const hi = this.env.max(rows);
    const row = b.reg('u32');
    if (ids.dtype === 'i64') {
      const last = typeof rows === 'number' ? String(rows - 1) : this.env.hoisted(`last64:${rows}`, () => {
        const t = b.reg('u64');
        b.ins('cvt.u64.u32', t, this.env.dim(rows));
        b.ins('sub.s64', t, t, '1');
        return t;
      });
      const t = b.reg('s64');
      b.ins('max.s64', t, id, '0');
      b.ins('min.s64', t, t, last);
      b.ins('cvt.u32.u64', row, t);
    } else {
      const last = typeof rows === 'number' ? String(rows - 1) : this.env.hoisted(`last32:${rows}`, () => {
        const t = b.reg('u32');
        b.ins('sub.s32', t, this.env.dim(rows), '1');
        return t;
      });
      b.ins('max.s32', row, id, '0');
      b.ins('min.s32', row, row, last);
    }
    return this.value(table, [ixReg(row, hi), ...c.slice(ir)]);
  }
}
