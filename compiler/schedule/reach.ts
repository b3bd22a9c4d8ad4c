// Can a node be computed inside kernel K? Walk its inlined expression with symbolic coordinates:
// each position is "row coordinate i" of K's space, "zero", or "other". A value K keeps per row
// (a reduction result, a norm's statistics, an element K stored in an earlier phase) may only be read
// at the reader's own row: a block never sees another block's registers, and it only knows its own
// rows' stores are complete. Anchors of other kernels are read from their buffers and must have
// been produced by an earlier launch.
import type { Node } from '../ir/node.ts';
import type { Shape } from '../ir/shape.ts';
import { unitReshape } from '../codegen/ptx/movement.ts';
import type { ScheduledKernel } from './types.ts';
import { isLeaf, isRowMap, isRowReduce, isTopk } from './types.ts';

type Term = string; // `r${i}` | 'z' | 'o'

export interface ReachResult {
  readonly ok: boolean;
  /** why not, for debugging */
  readonly reason?: string;
  /** anchors of other kernels the expression reads from buffers */
  readonly external: ReadonlySet<Node>;
}

export interface ReachContext {
  readonly anchors: ReadonlySet<Node>;
  readonly home: ReadonlyMap<Node, ScheduledKernel>;
}

/** The coordinates of K's iteration space: row coordinates everywhere but the reduced axis. */
export function spaceTerms(shape: Shape, axis: number | null): Term[] {
  return shape.map((_, i) => (i === axis ? 'o' : `r${i}`));
}

function sameRow(k: ScheduledKernel, positions: readonly number[], t: readonly Term[]): boolean {
  return positions.every((p, j) => t[j] === `r${p}` || k.shape[p] === 1);
}

/** The operand coordinates of an inlined node, or null when it has none to follow. */
function mapTerms(n: Node, t: readonly Term[]): Term[][] {
  switch (n.op) {
    case 'broadcast': {
      const from = n.src[0].shape, off = n.shape.length - from.length;
      return [from.map((d, i) => (d === 1 ? 'z' : t[i + off]))];
    }
    case 'permute': {
      const perm = n.argOf<number[]>('perm');
      const s: Term[] = new Array(perm.length);
      perm.forEach((p, i) => { s[p] = t[i]; });
      return [s];
    }
    case 'slice': {
      const ax = n.argOf<number>('axis');
      return [t.map((x, i) => (i === ax && n.argOf<number>('start') !== 0 ? 'o' : x))];
    }
    case 'concat': {
      const ax = n.argOf<number>('axis');
      return n.src.map(() => t.map((x, i) => (i === ax ? 'o' : x)));
    }
    case 'reshape': {
      const from = n.src[0].shape, to = n.shape;
      if (!unitReshape(from, to)) return [from.map(() => 'o')];
      const a = from.flatMap((d, i) => (d === 1 ? [] : [i])), b = to.flatMap((d, i) => (d === 1 ? [] : [i]));
      const s: Term[] = from.map(() => 'z');
      a.forEach((i, k) => { s[i] = t[b[k]]; });
      return [s];
    }
    case 'gather': {
      const ir = n.src[1].shape.length;
      return [['o', ...t.slice(ir)], t.slice(0, ir)];
    }
    case 'one_hot': return [t.slice(0, -1)];
  }
  return n.src.map(() => [...t]);
}

/**
 * Check that `root` can be computed in K at coordinates `terms`. An elementwise anchor being placed
 * passes itself with `rootInline` (its own expression is walked); a reduce/row node passes its operand.
 */
export function reach(ctx: ReachContext, k: ScheduledKernel, root: Node, terms: readonly Term[], rootInline: boolean): ReachResult {
  const external = new Set<Node>();
  const seen = new Set<string>();
  let reason: string | undefined;
  const rowPositions = k.shape.map((_, i) => i).filter((i) => i !== k.axis);

  const walk = (n: Node, t: readonly Term[], inline: boolean): boolean => {
    const key = `${n.id}:${t.join(',')}:${inline}`;
    if (seen.has(key)) return true;
    seen.add(key);
    if (isLeaf(n) || (n.op === 'const' && !ctx.anchors.has(n))) return true;
    if (!inline && ctx.anchors.has(n)) {
      const h = ctx.home.get(n);
      if (h === undefined) { reason = `${n} is not scheduled yet`; return false; }
      if (h !== k) {
        if (h.index >= k.index) { reason = `${n} is produced by a later kernel`; return false; }
        external.add(n);
        return true;
      }
      if (k.kind === 'map') return walk(n, t, true); // recomputed in the same thread (memoized)
      if (isTopk(n)) { reason = `${n}: top-k results are only read from memory`; return false; }
      if (isRowReduce(n)) {
        if (sameRow(k, rowPositions, t)) return true;
        reason = `${n} is read at another row`;
        return false;
      }
      if (isRowMap(n)) {
        if (!sameRow(k, rowPositions, t.filter((_, i) => i !== k.axis))) { reason = `${n} is read at another row`; return false; }
        return walk(n.src[0], t, false);
      }
      // an element K stored in an earlier phase: loaded at the same row, else recomputed
      return sameRow(k, rowPositions, t.filter((_, i) => i !== k.axis)) || walk(n, t, true);
    }
    const srcTerms = mapTerms(n, t);
    return n.src.every((s, i) => walk(s, srcTerms[i], false));
  };
  const ok = walk(root, terms, rootInline);
  return { ok, reason, external };
}
