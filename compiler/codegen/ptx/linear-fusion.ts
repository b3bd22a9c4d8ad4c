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
import { decompose, ixKey, ixReg } from './index-math.ts';
import { externalSource } from './kernel-common.ts';
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
  private readonly K: number;
  private acc: { key: string; value: string } | null = null;

  constructor(env: KernelEnv, s: Schedule, k: ScheduledKernel) {
    this.env = env;
    this.linear = k.items[0].node;
    this.fusedX = k.operand !== undefined;
    this.norm = k.operand?.norms[0] ?? null;
    const e = !k.partials && k.items.length > 1 ? k.items[1] : null;
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

  /** x at (row, kk + off + i) for i < count, as f32 registers (kk + off + count ≤ K). */
  xAt(row: readonly Ix[], kk: string, off: number, count: number): string[] {
    return Array.from({ length: count }, (_, i) => this.ex.value(this.linear.src[0], [...row, { r: kk, k: off + i, lo: off + i, hi: this.K }]));
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
