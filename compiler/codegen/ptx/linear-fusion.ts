// What a linear kernel (the GEMV and the tensor-core kernel) computes besides Σ x·w (docs/fusion.md):
// an x operand that is an expression rather than a buffer (evaluated at (m, k) where x is loaded), the
// rms_norms inside it (their row statistics summed over k before the k loop), and an elementwise
// epilogue stored instead of the linear (evaluated at (m, n) with the linear's value the accumulator).
import type { Node } from '../../ir/node.ts';
import type { Schedule, ScheduledKernel } from '../../schedule/types.ts';
import type { Source } from './expr.ts';
import { ExprEmitter } from './expr.ts';
import type { Ix } from './index-math.ts';
import { decompose, ixKey, ixReg } from './index-math.ts';
import { externalSource, forLoop } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitRound, f32Hex } from './legalize.ts';
import { ptxMathOps } from './ptx-math-ops.ts';

export class LinearFusion {
  /** x is an expression (k.operand), not a buffer */
  readonly fusedX: boolean;
  readonly norms: readonly Node[];
  /** the elementwise user stored instead of the linear, or null */
  readonly epilogue: { readonly node: Node; readonly store: string } | null;
  readonly ex: ExprEmitter;
  private readonly env: KernelEnv;
  private readonly linear: Node;
  private readonly K: number;
  private readonly inv = new Map<string, string>();
  private acc: { key: string; value: string } | null = null;

  constructor(env: KernelEnv, s: Schedule, k: ScheduledKernel) {
    this.env = env;
    this.linear = k.items[0].node;
    this.fusedX = k.operand !== undefined;
    this.norms = k.operand?.norms ?? [];
    const e = !k.partials && k.items.length > 1 ? k.items[1] : null;
    this.epilogue = e ? { node: e.node, store: e.store! } : null;
    const x = this.linear.src[0];
    this.K = x.shape[x.shape.length - 1] as number;
    const b = env.b, o = ptxMathOps(b);
    const source = (n: Node): Source => {
      const ext = externalSource(s, k, n);
      if (ext) return ext;
      if (n === this.linear) {
        return { kind: 'custom', emit: (c) => {
          if (!this.acc || this.acc.key !== c.map(ixKey).join(',')) throw new Error(`codegen: ${n} is read by its epilogue at another element (a scheduling bug)`);
          return this.acc.value;
        } };
      }
      if (this.norms.includes(n)) {
        return { kind: 'custom', emit: (c) => {
          const inv = this.inv.get(this.statKey(n, c.slice(0, -1)));
          if (!inv) throw new Error(`codegen: ${n} is read at a row whose statistics the linear kernel did not compute (a scheduling bug)`);
          return emitRound(b, n.dtype, o.mul(this.ex.value(n.src[0], c), inv));
        } };
      }
      return { kind: 'inline' };
    };
    this.ex = new ExprEmitter(env, source);
  }

  private statKey(n: Node, row: readonly Ix[]): string { return `${n.id}|${row.map(ixKey).join(',')}`; }

  /** The coordinates of flat row m (u32) of x's leading dims. */
  rowCoords(m: string): Ix[] {
    const x = this.linear.src[0];
    return decompose(this.env, m, x.shape.slice(0, -1));
  }

  /** x at (row, kk + off + i) for i < count, as f32 registers (kk + off + count ≤ K). */
  xAt(row: readonly Ix[], kk: string, off: number, count: number): string[] {
    return Array.from({ length: count }, (_, i) => this.ex.value(this.linear.src[0], [...row, { r: kk, k: off + i, lo: off + i, hi: this.K }]));
  }

  /**
   * The norms' statistics for `rows`, one warp summing each row over k (lane l takes `per` consecutive k
   * at l·per + 32·per·j; every row's loads of a trip are in flight together), reduced with butterfly
   * shuffles: every lane ends with inv = 1/sqrt(ss/K + eps) (the row kernel's instructions). Rows must be
   * in range (clamp them). Afterwards `xAt` at those rows reads the norms' values.
   */
  warpStats(rows: readonly (readonly Ix[])[], lane: string): string[][] {
    const b = this.env.b, o = ptxMathOps(b), K = this.K;
    const per = K % 4 === 0 ? 4 : K % 2 === 0 ? 2 : 1;
    return this.norms.map((n) => {
      b.comment(`${n} statistics`);
      const ss = rows.map(() => { const f = b.reg('f32'); b.ins('mov.f32', f, f32Hex(0)); return f; });
      const start = b.reg('u32');
      b.ins('mul.lo.u32', start, lane, String(per));
      forLoop(this.env, 'ss', start, String(K), 32 * per, (kk) => this.ex.scoped(() => {
        const vs = rows.map((row) => Array.from({ length: per }, (_, i) => this.ex.value(n.src[0], [...row, { r: kk, k: i, lo: i, hi: K }])));
        vs.forEach((v, r) => v.forEach((x) => b.ins('fma.rn.f32', ss[r], x, x, ss[r])));
      }));
      return ss.map((a, r) => {
        for (let sh = 16; sh >= 1; sh >>= 1) {
          const y = b.reg('f32');
          b.ins('shfl.sync.bfly.b32', y, a, String(sh), '31', '-1');
          b.ins('add.f32', a, a, y);
        }
        const inv = o.rcp(o.sqrt(o.add(o.div(a, f32Hex(K)), f32Hex(n.argOf<number>('eps')))));
        this.setInv(n, rows[r], inv);
        return inv;
      });
    });
  }

  /** Make `inv` the statistic of norm `n` at `row` (read by the x loads that follow). */
  setInv(n: Node, row: readonly Ix[], inv: string): void { this.inv.set(this.statKey(n, row), inv); }

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
