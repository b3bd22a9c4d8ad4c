// Per-kernel context: the builder, kernel parameters in first-use order (buffers as u64 pointers,
// symbolic dims as u32) with the matching launch arguments, and hoisted per-kernel values (dims,
// stride products, special registers) computed once in the prologue.
import type { Dim } from '../../ir/shape.ts';
import type { LaunchArg } from '../plan.ts';
import { PtxBuilder } from './builder.ts';

export class KernelEnv {
  readonly b = new PtxBuilder();
  readonly args: LaunchArg[] = [];
  private readonly bufs = new Map<string, string>();
  private readonly dims = new Map<string, string>();
  private readonly cache = new Map<string, string>();
  private readonly maxDims: Readonly<Record<string, number>>;

  constructor(maxDims: Readonly<Record<string, number>>) {
    this.maxDims = maxDims;
  }

  /** The global-space base address of a buffer (a new u64 parameter on first use). */
  buffer(id: string): string {
    const hit = this.bufs.get(id);
    if (hit) return hit;
    const name = this.b.param(`buf${this.bufs.size}`, 'u64');
    this.args.push({ buffer: id });
    const r = this.b.hoist(() => {
      const g = this.b.reg('u64');
      this.b.ins('ld.param.u64', g, `[${name}]`);
      this.b.ins('cvta.to.global.u64', g, g);
      return g;
    });
    this.bufs.set(id, r);
    return r;
  }

  /** A dim as an operand: the immediate for a static size, else the u32 parameter's register. */
  dim(d: Dim): string {
    if (typeof d === 'number') return String(d);
    const hit = this.dims.get(d);
    if (hit) return hit;
    const name = this.b.param(`dim_${d}`, 'u32');
    this.args.push({ dim: d });
    const r = this.b.hoist(() => { const x = this.b.reg('u32'); this.b.ins('ld.param.u32', x, `[${name}]`); return x; });
    this.dims.set(d, r);
    return r;
  }

  /** The largest value a dim may take (sizes index ranges). */
  max(d: Dim): number {
    if (typeof d === 'number') return d;
    const v = this.maxDims[d];
    if (v === undefined) throw new Error(`codegen: dim "${d}" has no maximum in maxDims`);
    return v;
  }

  /** Π dims as an operand (immediate when all static), hoisted and cached. */
  product(ds: readonly Dim[]): string {
    let k = 1;
    const syms: string[] = [];
    for (const d of ds) if (typeof d === 'number') k *= d; else syms.push(d);
    if (syms.length === 0) return String(k);
    const key = `prod:${k}:${syms.join('*')}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = this.b.hoist(() => {
      let acc = this.dim(syms[0]);
      for (const s of syms.slice(1)) { const t = this.b.reg('u32'); this.b.ins('mul.lo.u32', t, acc, this.dim(s)); acc = t; }
      if (k !== 1) { const t = this.b.reg('u32'); this.b.ins('mul.lo.u32', t, acc, String(k)); acc = t; }
      return acc;
    });
    this.cache.set(key, r);
    return r;
  }

  /** A special register (%tid.x, %ctaid.x, %ntid.x) read once. */
  special(name: string): string {
    const key = `sreg:${name}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = this.b.hoist(() => { const x = this.b.reg('u32'); this.b.ins('mov.u32', x, name); return x; });
    this.cache.set(key, r);
    return r;
  }

  /** A value computed once in the prologue under `key` (e.g. row coordinates). */
  hoisted(key: string, make: () => string): string {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = this.b.hoist(make);
    this.cache.set(key, r);
    return r;
  }
}
