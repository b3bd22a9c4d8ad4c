// What a linear kernel (the GEMV and the tensor-core kernel) computes besides Σ x·w (docs/fusion.md):
// an x operand that is an expression rather than a buffer (evaluated at (m, k) where x is loaded); the
// rms_norm r it may scale (x = r · factors): x is loaded with r's operand in place of r, the kernel sums
// the squares of that operand along the k loop, and the row's sum is scaled by inv = 1/sqrt(ss/K + eps)
// after it (Σ_k r·f·w = inv · Σ_k r₀·f·w); and an elementwise epilogue stored instead of the linear
// (evaluated at (m, n) with the linear's value the scaled sum).
import type { Node } from '../../ir/node.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { Source } from './expr.ts';
import { ExprEmitter } from './expr.ts';
import type { Ix } from './index-math.ts';
import { address, decompose, ixKey, ixReg, ixShift, linearIndex } from './index-math.ts';
import { itemSize } from '../../ir/dtype.ts';
import type { FloatDType } from '../../ir/dtype.ts';
import { ELEMENTWISE } from '../../ir/ops.ts';
import { mapBroadcast, mapSlice } from './movement.ts';
import { loadVector } from './vector-load.ts';
import { externalSource, storeAt } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { f32Hex } from './legalize.ts';
import { ptxMathOps } from './ptx-math-ops.ts';

export class LinearFusion {
  /** x is an expression (k.operand), not a buffer */
  readonly fusedX: boolean;
  /** the rms_norm whose statistic scales the row's sums, or null */
  readonly norm: Node | null;
  /** the elementwise user stored instead of the linear, or null */
  readonly epilogue: { readonly node: Node; readonly store: string } | null;
  readonly ex: ExprEmitter;
  private readonly env: KernelEnv;
  private readonly linear: Node;
  private readonly s: Schedule;
  private readonly k: ScheduledKernel;
  private readonly K: number;
  private acc: { key: string; value: string } | null = null;

  /** `withEpilogue` false: the epilogue is another launch's (a K-split linear's reduce stores it) */
  constructor(env: KernelEnv, s: Schedule, k: ScheduledKernel, withEpilogue = true) {
    this.env = env;
    this.s = s;
    this.k = k;
    this.linear = k.items[0].node;
    this.fusedX = k.operand !== undefined;
    this.norm = k.operand?.norms[0] ?? null;
    const e = withEpilogue && !k.partials && k.items.length > 1 ? k.items[1] : null;
    this.epilogue = e ? { node: e.node, store: e.store! } : null;
    const x = this.linear.src[0];
    this.K = x.shape[x.shape.length - 1] as number;
    const source = (n: Node): Source => {
      const ext = externalSource(s, k, n);
      if (ext) return ext;
      if (n === this.linear) {
        return { kind: 'custom', emit: (c) => {
          if (!this.acc || this.acc.key !== c.map(ixKey).join(',')) throw new Error(`codegen: ${n} is read by its epilogue at another element (a scheduling bug)`);
          return this.acc.value;
        } };
      }
      if (n === this.norm) return { kind: 'custom', emit: (c) => this.ex.value(n.src[0], c) }; // scaled after the sum
      return { kind: 'inline' };
    };
    this.ex = new ExprEmitter(env, source);
  }

  /** The coordinates of flat row m (u32) of x's leading dims. */
  rowCoords(m: string): Ix[] {
    const x = this.linear.src[0];
    return decompose(this.env, m, x.shape.slice(0, -1));
  }

  /**
   * x at (row, kk + off + i) for i < count, as f32 registers (kk + off + count ≤ K; kk a multiple of count).
   * Buffers the expression reads along k with unit stride are loaded `count` at a time first (one 16-byte
   * load where a plain x would have had one), so the element-wise evaluation finds them memoized.
   */
  xAt(row: readonly Ix[], kk: string, off: number, count: number): string[] {
    if (count > 1) this.vectorReads(row, kk, off, count);
    return Array.from({ length: count }, (_, i) => this.ex.value(this.linear.src[0], [...row, { r: kk, k: off + i, lo: off + i, hi: this.K }]));
  }

  /** Seed the memo with vector loads of every buffer x reads at k + i (through elementwise ops, slices, broadcasts). */
  private vectorReads(row: readonly Ix[], kk: string, off: number, count: number): void {
    const seen = new Set<string>();
    const walk = (n: Node, c: readonly Ix[]): void => {
      const key = `${n.id}@${c.map(ixKey).join(',')}`;
      if (seen.has(key) || n.op === 'const') return;
      seen.add(key);
      const src = externalSource(this.s, this.k, n);
      if (src?.kind === 'buffer') { this.vectorLoad(n, src.id, c, kk, count); return; }
      if (src || n === this.linear) return;
      if (n === this.norm) { walk(n.src[0], c); return; }
      if (n.op === 'slice') walk(n.src[0], mapSlice(n, c));
      else if (n.op === 'broadcast') walk(n.src[0], mapBroadcast(n, c));
      else if (ELEMENTWISE.has(n.op)) n.src.forEach((x) => walk(x, c));
    };
    walk(this.linear.src[0], [...row, { r: kk, k: off, lo: off, hi: this.K }]);
  }

  /** `count` elements of buffer n from coordinates c along its last axis, when c reads it at kk + const with aligned rows. */
  private vectorLoad(n: Node, id: string, c: readonly Ix[], kk: string, count: number): void {
    const last = c[c.length - 1], d = n.shape[n.shape.length - 1];
    const float = n.dtype === 'f32' || n.dtype === 'bf16' || n.dtype === 'f16';
    if (!float || last.r !== kk || last.k % count !== 0 || typeof d !== 'number' || d % count !== 0) return;
    if (c.slice(0, -1).some((x) => x.r === kk)) return;
    const b = this.env.b;
    const addr = address(b, this.env.buffer(id), linearIndex(this.env, n.shape, c), itemSize(n.dtype));
    loadVector(b, n.dtype as FloatDType, addr, count, 'ld.global.nc').forEach((v, i) => this.ex.seed(n, [...c.slice(0, -1), ixShift(last, i)], v));
  }

  /** The norm's operand at the elements `xAt` just loaded (the same registers: memoized), for the sum of squares. */
  normAt(row: readonly Ix[], kk: string, off: number, count: number): string[] {
    const n = this.norm!;
    return Array.from({ length: count }, (_, i) => this.ex.value(n.src[0], [...row, { r: kk, k: off + i, lo: off + i, hi: this.K }]));
  }

  /** inv = 1/sqrt(ss/K + eps) from a row's sum of squares (the row kernel's instructions). */
  inv(ss: string): string {
    const o = ptxMathOps(this.env.b);
    return o.rcp(o.sqrt(o.add(o.div(ss, f32Hex(this.K)), f32Hex(this.norm!.argOf<number>('eps')))));
  }

  /**
   * Store the epilogue's value at (row, column n), given the linear's sum `acc` there, at flat index idx of
   * its buffer; with `inside`, only where that predicate holds (a branch around the operand loads too).
   */
  storeEpilogue(idx: string, row: readonly Ix[], n: string, acc: string, inside?: string): void {
    const b = this.env.b, epi = this.epilogue!;
    const past = inside ? b.newLabel('past') : null;
    if (inside) b.insIf(inside, true, 'bra', past!);
    storeAt(this.env, epi.store, epi.node, idx, this.epilogueValue(row, n, acc));
    if (past) b.label(past);
  }

  /** The epilogue's value at (row, column n) given the linear's sum there. */
  epilogueValue(row: readonly Ix[], n: string, acc: string): string {
    const N = this.linear.shape[this.linear.shape.length - 1];
    const c = [...row, ixReg(n, this.env.max(N))];
    return this.ex.scoped(() => {
      this.acc = { key: c.map(ixKey).join(','), value: acc };
      try { return this.ex.compute(this.epilogue!.node, c); } finally { this.acc = null; }
    });
  }
}
