// Movement ops as index maps: the coordinates of the operand element that an output element copies.
// reshape keeps coordinates when it only adds or drops size-1 dims, else goes through the linear index.
import type { Node } from '../../ir/node.ts';
import type { Shape } from '../../ir/shape.ts';
import type { Ix } from './index-math.ts';
import { decompose, ixConst, ixShift, linearIndex } from './index-math.ts';
import type { KernelEnv } from './kernel-env.ts';

const nonUnit = (s: Shape): number[] => s.flatMap((d, i) => (d === 1 ? [] : [i]));

/** Do two shapes differ only by size-1 dims? Then coordinates carry over position by position. */
export function unitReshape(from: Shape, to: Shape): boolean {
  const a = nonUnit(from), b = nonUnit(to);
  return a.length === b.length && a.every((i, k) => from[i] === to[b[k]]);
}

export function mapReshape(env: KernelEnv, n: Node, c: readonly Ix[]): Ix[] {
  const from = n.src[0].shape, to = n.shape;
  if (unitReshape(from, to)) {
    const src = from.map(() => ixConst(0));
    const a = nonUnit(from), b = nonUnit(to);
    a.forEach((i, k) => { src[i] = c[b[k]]; });
    return src;
  }
  let lin = linearIndex(env, to, c);
  const constant = /^\d+$/.test(lin);
  if (constant && from.every((d) => typeof d === 'number')) {
    // a constant position: decompose at compile time
    let rest = Number(lin);
    const out: Ix[] = new Array(from.length);
    for (let i = from.length - 1; i >= 0; i--) {
      const d = from[i] as number;
      out[i] = ixConst(rest % d);
      rest = Math.floor(rest / d);
    }
    return out;
  }
  if (constant) { const r = env.b.reg('u32'); env.b.ins('mov.u32', r, lin); lin = r; }
  return decompose(env, lin, from);
}

export function mapBroadcast(n: Node, c: readonly Ix[]): Ix[] {
  const from = n.src[0].shape;
  const off = n.shape.length - from.length;
  return from.map((d, i) => (d === 1 ? ixConst(0) : c[i + off]));
}

export function mapPermute(n: Node, c: readonly Ix[]): Ix[] {
  const perm = n.argOf<number[]>('perm');
  const src: Ix[] = new Array(perm.length);
  perm.forEach((p, i) => { src[p] = c[i]; });
  return src;
}

export function mapSlice(n: Node, c: readonly Ix[]): Ix[] {
  const ax = n.argOf<number>('axis'), start = n.argOf<number>('start');
  return c.map((x, i) => (i === ax ? ixShift(x, start) : x));
}
