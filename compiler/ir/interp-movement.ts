// Movement ops for the interpreter: reshape shares storage, the rest materialize.
import type { Node } from './node.ts';
import type { HostTensor, TypedData } from './tensor-data.ts';
import { allocData, hostTensor, numel } from './tensor-data.ts';

const stridesOf = (s: readonly number[]): number[] => {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) { st[i] = acc; acc *= s[i]; }
  return st;
};

/** Gather elements by a per-output source index (raw storage copy, no rounding). */
function remap(x: HostTensor, shape: number[], srcIndex: (coord: number[]) => number): HostTensor {
  const len = numel(shape);
  const data = allocData(x.dtype, len) as unknown as { [i: number]: number | bigint };
  const src = x.data as unknown as { [i: number]: number | bigint };
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < len; i++) {
    data[i] = src[srcIndex(coord)];
    for (let d = shape.length - 1; d >= 0; d--) { if (++coord[d] < shape[d]) break; coord[d] = 0; }
  }
  return hostTensor(x.dtype, shape, data as unknown as TypedData);
}

export function evalMovement(n: Node, src: readonly HostTensor[], shape: number[]): HostTensor {
  const x = src[0];
  switch (n.op) {
    case 'reshape': return hostTensor(x.dtype, shape, x.data);
    case 'broadcast': {
      const off = shape.length - x.shape.length;
      const st = stridesOf(x.shape);
      return remap(x, shape, (c) => x.shape.reduce((acc, d, i) => acc + (d === 1 ? 0 : c[i + off] * st[i]), 0));
    }
    case 'permute': {
      const perm = n.argOf<number[]>('perm');
      const st = stridesOf(x.shape);
      return remap(x, shape, (c) => c.reduce((acc, v, i) => acc + v * st[perm[i]], 0));
    }
    case 'slice': {
      const ax = n.argOf<number>('axis'), start = n.argOf<number>('start');
      const st = stridesOf(x.shape);
      return remap(x, shape, (c) => c.reduce((acc, v, i) => acc + (i === ax ? v + start : v) * st[i], 0));
    }
    case 'concat': {
      const ax = n.argOf<number>('axis');
      const starts: number[] = [];
      let acc = 0;
      for (const s of src) { starts.push(acc); acc += s.shape[ax]; }
      const len = numel(shape);
      const out = allocData(x.dtype, len) as unknown as { [i: number]: number | bigint };
      const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
      const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
      src.forEach((s, j) => {
        const d = s.shape[ax];
        const sd = s.data as unknown as { [i: number]: number | bigint };
        for (let o = 0; o < outer; o++) for (let k = 0; k < d * inner; k++) {
          out[(o * shape[ax] + starts[j]) * inner + k] = sd[o * d * inner + k];
        }
      });
      return hostTensor(x.dtype, shape, out as unknown as TypedData);
    }
  }
  throw new Error(`not a movement op: ${n.op}`);
}
