// Training ops for the interpreter: stop_gradient (the value itself), one_hot, scatter_add (f64 sums per
// output element, in update order, one rounding on store).
import type { Node } from './node.ts';
import type { HostTensor } from './tensor-data.ts';
import { floatArray, hostTensor, reader } from './tensor-data.ts';

export function evalTraining(n: Node, src: readonly HostTensor[], shape: number[]): HostTensor {
  if (n.op === 'stop_gradient') return src[0];
  if (n.op === 'one_hot') {
    const depth = n.argOf<number>('depth');
    const r = reader(src[0]);
    const out = floatArray(src[0].data.length * depth);
    for (let i = 0; i < src[0].data.length; i++) {
      const id = r(i);
      if (id >= 0 && id < depth) out[i * depth + id] = 1;
    }
    return hostTensor('f32', shape, out);
  }
  if (n.op === 'scatter_add') {
    const [u, ids] = src;
    const [M, R] = u.shape;
    const rows = n.argOf<number>('rows');
    const ru = reader(u), ri = reader(ids);
    const acc = new Float64Array(rows * R);
    for (let m = 0; m < M; m++) {
      const id = ri(m);
      if (!(id >= 0 && id < rows)) throw new RangeError(`scatter_add: index ${id} at position ${m} is outside [0, ${rows})`);
      const o = id * R, s = m * R;
      for (let j = 0; j < R; j++) acc[o + j] += ru(s + j);
    }
    const out = floatArray(acc.length);
    out.set(acc);
    return hostTensor('f32', shape, out);
  }
  throw new Error(`not a training op: ${n.op}`);
}
