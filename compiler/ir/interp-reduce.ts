// Reductions and row ops for the interpreter (float64 accumulation, one rounding on store).
import type { Node } from './node.ts';
import type { HostTensor } from './tensor-data.ts';
import { hostTensor, reader, writer } from './tensor-data.ts';

/** a > b in the argmax order: NaN is the largest, ties keep the earlier index. */
const beats = (a: number, b: number): boolean => (Number.isNaN(a) ? !Number.isNaN(b) : a > b);

export function evalReduce(n: Node, x: HostTensor, shape: number[]): HostTensor {
  const out = hostTensor(n.dtype, shape);
  const w = writer(out);
  const r = reader(x);
  const xs = x.shape;
  if (n.op === 'sum' || n.op === 'reduce_max' || n.op === 'argmax') {
    const ax = n.argOf<number>('axis');
    const outer = xs.slice(0, ax).reduce((a, b) => a * b, 1);
    const len = xs[ax];
    const inner = xs.slice(ax + 1).reduce((a, b) => a * b, 1);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      if (n.op === 'sum') {
        let s = 0;
        for (let k = 0; k < len; k++) s += r(base + k * inner);
        w(o * inner + i, s);
      } else {
        let best = -Infinity, bi = 0;
        for (let k = 0; k < len; k++) {
          const v = r(base + k * inner);
          if (k === 0 || beats(v, best)) { best = v; bi = k; }
        }
        w(o * inner + i, n.op === 'argmax' ? bi : best);
      }
    }
    return out;
  }
  const len = xs[xs.length - 1];
  const rows = len === 0 ? 0 : x.data.length / len;
  const row = new Float64Array(len);
  if (n.op === 'topk_values' || n.op === 'topk_indices') {
    const k = n.argOf<number>('k');
    const idx = Array.from({ length: len }, (_, i) => i);
    for (let q = 0; q < rows; q++) {
      for (let i = 0; i < len; i++) row[i] = r(q * len + i);
      idx.sort((a, b) => (beats(row[a], row[b]) ? -1 : beats(row[b], row[a]) ? 1 : a - b));
      for (let j = 0; j < k; j++) w(q * k + j, n.op === 'topk_values' ? row[idx[j]] : idx[j]);
      idx.sort((a, b) => a - b);
    }
    return out;
  }
  const eps = n.op === 'softmax' ? 0 : n.argOf<number>('eps');
  for (let q = 0; q < rows; q++) {
    const off = q * len;
    for (let i = 0; i < len; i++) row[i] = r(off + i);
    if (n.op === 'softmax') {
      let m = -Infinity;
      for (let i = 0; i < len; i++) m = Math.max(m, row[i]);
      let s = 0;
      for (let i = 0; i < len; i++) { row[i] = Math.exp(row[i] - m); s += row[i]; }
      for (let i = 0; i < len; i++) w(off + i, row[i] / s);
    } else if (n.op === 'rms_norm') {
      let ss = 0;
      for (let i = 0; i < len; i++) ss += row[i] * row[i];
      const inv = 1 / Math.sqrt(ss / len + eps);
      for (let i = 0; i < len; i++) w(off + i, row[i] * inv);
    } else {
      let mean = 0;
      for (let i = 0; i < len; i++) mean += row[i];
      mean /= len;
      let v = 0;
      for (let i = 0; i < len; i++) v += (row[i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / len + eps);
      for (let i = 0; i < len; i++) w(off + i, (row[i] - mean) * inv);
    }
  }
  return out;
}
