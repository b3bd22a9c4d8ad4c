// Shapes: numbers for static sizes, names (e.g. "B") for sizes bound when a graph runs.
export type Dim = number | string;
export type Shape = readonly Dim[];

export const fmtShape = (s: Shape): string => `[${s.join(',')}]`;

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Product of the static dims and the multiset of symbolic ones, so reshapes can be checked symbolically. */
export function sizeOf(s: Shape): { n: number; syms: string[] } {
  let n = 1;
  const syms: string[] = [];
  for (const d of s) if (typeof d === 'number') n *= d; else syms.push(d);
  return { n, syms: syms.sort() };
}

export function sameSize(a: Shape, b: Shape): boolean {
  const x = sizeOf(a), y = sizeOf(b);
  return x.n === y.n && x.syms.length === y.syms.length && x.syms.every((s, i) => s === y.syms[i]);
}

/** Resolve symbolic dims with a binding; throws naming the unbound dim. */
export function resolveShape(s: Shape, env: ReadonlyMap<string, number>): number[] {
  return s.map((d) => {
    if (typeof d === 'number') return d;
    const v = env.get(d);
    if (v === undefined) throw new Error(`dimension "${d}" is not bound`);
    return v;
  });
}

export const normAxis = (axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
};

export const isDimName = (s: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
