// Row kernel: one block per row of the kernel's shape (all coordinates but `axis`); threads stride
// along the axis. Items run in phases: a reduction (sum/max/argmax/top-k, or a norm's statistics)
// loops over the row and reduces across the block; runs of stored elements (elementwise items and
// stored norms) loop once and store. A norm's value is x·inv (or its layer/softmax form) recomputed
// from its operand where read, so norms never need a buffer inside the kernel. Elements stored in an
// earlier phase are reloaded at the same row after a bar.sync instead of recomputed.
import type { Node } from '../../ir/node.ts';
import type { Dim } from '../../ir/shape.ts';
import type { Item, Schedule, ScheduledKernel } from '../../schedule/types.ts';
import { isRowMap, isRowReduce, isTopk } from '../../schedule/types.ts';
import type { Source } from './expr.ts';
import { ExprEmitter } from './expr.ts';
import type { Ix } from './index-math.ts';
import { decompose, ixConst, ixReg, ixSame, linearIndex } from './index-math.ts';
import type { LaunchShape } from './kernel-common.ts';
import { externalSource, forLoop, gridOf, storeAt } from './kernel-common.ts';
import type { KernelEnv } from './kernel-env.ts';
import { emitRound, f32Hex, regTypeOf } from './legalize.ts';
import { expF } from './math-recipes.ts';
import { ptxMathOps } from './ptx-math-ops.ts';
import type { Pair } from './reduce.ts';
import { NONE, nonePair, Reducer } from './reduce.ts';

/** Threads per row: enough warps to cover short rows, more for vocabulary-sized rows. */
export function rowBlockSize(len: Dim): number {
  if (typeof len !== 'number') return 256;
  if (len >= 32768) return 1024;
  if (len >= 8192) return 512;
  return Math.min(256, Math.max(32, Math.ceil(len / 32) * 32));
}

export function emitRowKernel(env: KernelEnv, s: Schedule, k: ScheduledKernel): LaunchShape {
  const b = env.b;
  const shape = k.shape, axis = k.axis!;
  const len = shape[axis];
  const block = rowBlockSize(len);
  const tid = env.special('%tid.x');
  const lane = env.hoisted('lane', () => { const r = b.reg('u32'); b.ins('and.b32', r, tid, '31'); return r; });
  const warp = env.hoisted('warp', () => { const r = b.reg('u32'); b.ins('shr.u32', r, tid, '5'); return r; });
  const red = new Reducer(b, block / 32, lane, warp);
  const outer = shape.filter((_, i) => i !== axis);
  const rowCoords = decompose(env, env.special('%ctaid.x'), outer);
  const at = (j: Ix): Ix[] => { let o = 0; return shape.map((_, i) => (i === axis ? j : rowCoords[o++])); };
  const lenOp = env.dim(len);
  const lenF = typeof len === 'number' ? f32Hex(len) : env.hoisted('lenf', () => { const f = b.reg('f32'); b.ins('cvt.rn.f32.u32', f, lenOp); return f; });

  const stats = new Map<Node, Record<string, string>>();
  const topk = new Map<string, Pair[]>();
  const done = new Set<Node>(); // stored and behind a barrier: safe to reload at this row
  let pending: Node[] = [];

  /** c (with or without the axis position) addresses this block's row. */
  const sameRow = (c: readonly Ix[], withAxis: boolean): boolean => {
    let o = 0;
    for (let i = 0; i < shape.length; i++) {
      if (i === axis) continue;
      const x = c[withAxis ? i : o];
      if (shape[i] !== 1 && !ixSame(x, rowCoords[o])) return false;
      o++;
    }
    return true;
  };
  const mustBeRow = (n: Node, c: readonly Ix[], withAxis: boolean): void => {
    if (!sameRow(c, withAxis)) throw new Error(`codegen: ${n} is read at another row of its row kernel (a scheduling bug)`);
  };
  const stat = (n: Node): Record<string, string> => {
    const st = stats.get(n);
    if (!st) throw new Error(`codegen: ${n} is read before its statistics are computed`);
    return st;
  };
  const o = ptxMathOps(b);
  const normValue = (n: Node, c: readonly Ix[]): string => {
    const x = ex.value(n.src[0], c);
    const st = stat(n);
    let v: string;
    if (n.op === 'rms_norm') v = o.mul(x, st.inv);
    else if (n.op === 'layer_norm') v = o.mul(o.sub(x, st.mean), st.inv);
    else v = o.div(expF(o, o.sub(x, st.max)), st.sum);
    return emitRound(b, n.dtype, v);
  };
  const source = (n: Node): Source => {
    const ext = externalSource(s, k, n);
    if (ext) return ext;
    if (isTopk(n)) throw new Error(`codegen: ${n} is read inside its own row kernel (a scheduling bug)`);
    if (isRowReduce(n)) return { kind: 'custom', emit: (c) => { mustBeRow(n, c, false); return stat(n).value; } };
    if (isRowMap(n)) return { kind: 'custom', emit: (c) => { mustBeRow(n, c, true); return normValue(n, c); } };
    if (s.home.get(n) !== k) return { kind: 'inline' };
    const buf = s.bufferOf.get(n);
    return {
      kind: 'custom',
      emit: (c) => (buf && done.has(n) && sameRow(c, true) ? ex.load(buf, n.dtype, n.shape, c, true) : ex.compute(n, c)),
    };
  };
  const ex = new ExprEmitter(env, source);

  const phase = (): void => {
    if (pending.length === 0) return;
    b.ins('bar.sync', '0');
    for (const n of pending) done.add(n);
    pending = [];
  };
  // each thread takes `unroll` elements per trip (j, j+T, ...), so that many independent loads are in
  // flight: a 128k-vocabulary argmax at batch 1 is one block. Past the end the coordinate is clamped
  // (loads stay inside the row) and `valid` masks the element out.
  const unroll = typeof len === 'number' ? Math.max(1, Math.min(4, Math.ceil(len / block))) : 4;
  const lenLast = typeof len === 'number' ? String(len - 1) : env.hoisted('lenlast', () => { const r = b.reg('u32'); b.ins('sub.s32', r, lenOp, '1'); return r; });
  const overRow = (body: (c: Ix[], valid: string | null) => void): void =>
    forLoop(env, 'row', tid, lenOp, block * unroll, (j) => ex.scoped(() => {
      for (let u = 0; u < unroll; u++) {
        if (u === 0) { body(at(ixReg(j, env.max(len))), null); continue; }
        const ju = b.reg('u32'), valid = b.reg('pred'), jc = b.reg('u32');
        b.ins('add.u32', ju, j, String(u * block));
        b.ins('setp.lt.u32', valid, ju, lenOp);
        b.ins('min.u32', jc, ju, lenLast);
        body(at(ixReg(jc, env.max(len))), valid);
      }
    }));
  /** `v` where `valid` (or always), else the identity `id`. */
  const masked = (t: 'f32' | 's32' | 's64', v: string, id: string, valid: string | null): string => {
    if (!valid) return v;
    const r = b.reg(t);
    b.ins(t === 'f32' ? 'selp.f32' : t === 's64' ? 'selp.b64' : 'selp.b32', r, v, id, valid);
    return r;
  };
  /** Block-reduce a per-thread accumulator built by `step` over the row. */
  const accumulate = (t: 'f32' | 's32' | 's64', init: string, step: (acc: string, c: Ix[], valid: string | null) => void, op: 'add' | 'max' = 'add'): string => {
    phase();
    const acc = b.reg(t);
    b.ins(t === 'f32' ? 'mov.f32' : t === 's64' ? 'mov.b64' : 'mov.b32', acc, init);
    overRow((c, valid) => step(acc, c, valid));
    return red.sum(t, acc, op);
  };
  const onThread0 = (fn: () => void): void => {
    const p = b.reg('pred'), skip = b.newLabel('skip');
    b.ins('setp.ne.u32', p, tid, '0');
    b.insIf(p, false, 'bra', skip);
    fn();
    b.label(skip);
  };
  /** The first `k` (value, index) pairs of the row in argmax order; one block argmax per round. */
  const topPairs = (x: Node, count: number): Pair[] => {
    const key = `${x.id}:${count}`;
    const hit = topk.get(key);
    if (hit && hit.length >= count) return hit;
    const t = regTypeOf(x.dtype);
    const out: Pair[] = [];
    for (let r = 0; r < count; r++) {
      phase();
      const best = nonePair(b, t);
      overRow((c, valid) => {
        const cand = { v: ex.value(x, c), i: c[axis].r! };
        let take = red.before(t, cand, best);
        const also = (q: string): void => { const both = b.reg('pred'); b.ins('and.pred', both, take, q); take = both; };
        if (r > 0) also(red.before(t, out[r - 1], cand));
        if (valid) also(valid);
        b.ins(t === 'f32' ? 'selp.f32' : t === 's64' ? 'selp.b64' : 'selp.b32', best.v, cand.v, best.v, take);
        b.ins('selp.b32', best.i, cand.i, best.i, take);
      });
      out.push(red.argmax(t, best));
    }
    topk.set(key, out);
    return out;
  };

  const reduceItem = (item: Item): void => {
    const n = item.node, x = n.src[0];
    const t = regTypeOf(x.dtype) as 'f32' | 's32' | 's64';
    b.comment(`${n}`);
    let value: string;
    if (n.op === 'sum') {
      const zero = t === 'f32' ? f32Hex(0) : '0';
      value = emitRound(b, n.dtype, accumulate(t, zero, (acc, c, ok) => b.ins(t === 'f32' ? 'add.f32' : `add.${t}`, acc, acc, masked(t, ex.value(x, c), zero, ok))));
    } else if (isTopk(n)) {
      const pairs = topPairs(x, n.argOf<number>('k'));
      if (item.store) onThread0(() => pairs.forEach((p, r) => {
        let v = n.op === 'topk_values' ? p.v : p.i;
        if (typeof len !== 'number') {
          // a symbolic row shorter than k leaves rounds without a winner: NaN / index 0, as the interpreter
          const none = b.reg('pred'), d = b.reg(regTypeOf(n.dtype));
          b.ins('setp.eq.u32', none, p.i, NONE);
          b.ins(n.op === 'topk_values' ? 'selp.f32' : 'selp.b32', d, n.op === 'topk_values' ? f32Hex(NaN) : '0', v, none);
          v = d;
        }
        storeAt(env, item.store!, n, linearIndex(env, n.shape, [...rowCoords, ixConst(r)]), v);
      }));
      return;
    } else {
      const [p] = topPairs(x, 1);
      value = n.op === 'argmax' ? p.i : p.v;
    }
    stats.set(n, { value });
    if (item.store) onThread0(() => storeAt(env, item.store!, n, linearIndex(env, n.shape, rowCoords), value));
  };

  const normStats = (n: Node): void => {
    const x = n.src[0];
    b.comment(`${n} statistics`);
    const eps = n.op === 'softmax' ? '' : f32Hex(n.argOf<number>('eps'));
    const zero = f32Hex(0);
    if (n.op === 'rms_norm') {
      const ss = accumulate('f32', zero, (acc, c, ok) => { const v = masked('f32', ex.value(x, c), zero, ok); b.ins('fma.rn.f32', acc, v, v, acc); });
      stats.set(n, { inv: o.rcp(o.sqrt(o.add(o.div(ss, lenF), eps))) });
    } else if (n.op === 'layer_norm') {
      const mean = o.div(accumulate('f32', zero, (acc, c, ok) => b.ins('add.f32', acc, acc, masked('f32', ex.value(x, c), zero, ok))), lenF);
      const ss = accumulate('f32', zero, (acc, c, ok) => { const d = masked('f32', o.sub(ex.value(x, c), mean), zero, ok); b.ins('fma.rn.f32', acc, d, d, acc); });
      stats.set(n, { mean, inv: o.rcp(o.sqrt(o.add(o.div(ss, lenF), eps))) });
    } else {
      const max = accumulate('f32', f32Hex(-Infinity), (acc, c, ok) => b.ins('max.NaN.f32', acc, acc, masked('f32', ex.value(x, c), f32Hex(-Infinity), ok)), 'max');
      const sum = accumulate('f32', zero, (acc, c, ok) => b.ins('add.f32', acc, acc, masked('f32', expF(o, o.sub(ex.value(x, c), max)), zero, ok)));
      stats.set(n, { max, sum });
    }
  };

  let group: Item[] = [];
  const flush = (): void => {
    if (group.length === 0) return;
    const items = group;
    group = [];
    phase();
    overRow((c, valid) => {
      const idx = linearIndex(env, shape, c);
      for (const item of items) {
        b.comment(`${item.node}`);
        storeAt(env, item.store!, item.node, idx, ex.value(item.node, c), valid ?? undefined);
      }
    });
    pending.push(...items.map((i) => i.node));
  };
  for (const item of k.items) {
    if (isRowReduce(item.node)) { flush(); reduceItem(item); continue; }
    if (isRowMap(item.node)) { flush(); normStats(item.node); if (item.store) group.push(item); continue; }
    group.push(item);
  }
  flush();
  return { block, grid: [gridOf(outer, 1), 1, 1] };
}
