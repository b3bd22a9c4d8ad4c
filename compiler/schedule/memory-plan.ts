// Memory planning: every temporary gets an offset in one arena sized for the largest dims. A temp is
// live from the first launch that touches it to the last; once its last reader has run, its bytes are
// reused (first fit, lowest offset). Two temps touched by the same launch never overlap, since a
// kernel may read one while writing the other.
import { itemSize } from '../ir/dtype.ts';
import type { DType } from '../ir/dtype.ts';
import type { Shape } from '../ir/shape.ts';

export const ARENA_ALIGN = 16;

export interface TempBuffer { readonly id: string; readonly dtype: DType; readonly shape: Shape }

export interface ArenaPlan {
  readonly offsets: ReadonlyMap<string, number>;
  readonly bytes: ReadonlyMap<string, number>;
  /** [first, last] launch index touching each temp */
  readonly live: ReadonlyMap<string, readonly [number, number]>;
  readonly arenaBytes: number;
}

const align = (n: number): number => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

/** Bytes of a buffer at the largest dims. */
export function bufferBytes(dtype: DType, shape: Shape, maxDims: Readonly<Record<string, number>>): number {
  let n = itemSize(dtype);
  for (const d of shape) {
    const v = typeof d === 'number' ? d : maxDims[d];
    if (v === undefined) throw new Error(`memory plan: dim "${d}" has no maximum in maxDims`);
    n *= v;
  }
  return n;
}

/** `uses[i]`: the buffer ids launch i reads or writes, in launch order. */
export function planArena(temps: readonly TempBuffer[], uses: readonly (readonly string[])[], maxDims: Readonly<Record<string, number>>): ArenaPlan {
  const live = new Map<string, [number, number]>();
  const isTemp = new Set(temps.map((t) => t.id));
  uses.forEach((ids, i) => {
    for (const id of ids) {
      if (!isTemp.has(id)) continue;
      const r = live.get(id);
      if (r) r[1] = i; else live.set(id, [i, i]);
    }
  });
  const bytes = new Map(temps.map((t) => [t.id, Math.max(ARENA_ALIGN, align(bufferBytes(t.dtype, t.shape, maxDims)))]));
  const order = temps.filter((t) => live.has(t.id)).sort((a, b) => live.get(a.id)![0] - live.get(b.id)![0]);
  const offsets = new Map<string, number>();
  const active: { id: string; off: number; end: number }[] = [];
  let arenaBytes = 0;
  for (const t of order) {
    const [first] = live.get(t.id)!;
    // free everything whose last use is before this buffer's first use
    for (let i = active.length - 1; i >= 0; i--) if (live.get(active[i].id)![1] < first) active.splice(i, 1);
    active.sort((a, b) => a.off - b.off);
    const size = bytes.get(t.id)!;
    let off = 0;
    for (const a of active) {
      if (off + size <= a.off) break;
      off = Math.max(off, a.end);
    }
    active.push({ id: t.id, off, end: off + size });
    offsets.set(t.id, off);
    arenaBytes = Math.max(arenaBytes, off + size);
  }
  return { offsets, bytes, live, arenaBytes };
}
