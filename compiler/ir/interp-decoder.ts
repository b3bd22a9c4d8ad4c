// Decoder ops for the interpreter (docs/targets.md): the KV-cache write and attention over a slot's
// positions 0…p. Scores, softmax and the weighted sum are computed in f64 and stored as f32.
import type { Node } from './node.ts';
import type { HostTensor } from './tensor-data.ts';
import { allocData, hostTensor, reader, writer } from './tensor-data.ts';

const ints = (t: HostTensor): Int32Array => t.data as Int32Array;

function checkRow(op: string, n: number, slot: number, pos: number, slots: number, len: number): void {
  if (!(slot >= 0 && slot < slots)) throw new RangeError(`${op}: row ${n} names slot ${slot}, outside [0, ${slots})`);
  if (pos >= len) throw new RangeError(`${op}: row ${n} is at position ${pos}, past the cache length ${len}`);
}

/** cache with row n of `x` at [slots[n], positions[n]]; into `cache` itself when `inPlace` (buffer donation). */
export function evalKvWrite(src: readonly HostTensor[], inPlace: boolean): HostTensor {
  const [cache, x, slots, pos] = src;
  const [S, L, Hk, D] = cache.shape;
  const row = Hk * D;
  const out = inPlace ? cache : hostTensor(cache.dtype, cache.shape, allocData(cache.dtype, cache.data.length));
  if (!inPlace) (out.data as Uint8Array).set(cache.data as Uint8Array);
  const rx = reader(x), w = writer(out);
  const sl = ints(slots), ps = ints(pos);
  for (let n = 0; n < sl.length; n++) {
    const p = ps[n];
    if (p < 0) continue;
    checkRow('kv_write', n, sl[n], p, S, L);
    const at = (sl[n] * L + p) * row;
    for (let i = 0; i < row; i++) w(at + i, rx(n * row + i));
  }
  return out;
}

export function evalAttention(node: Node, src: readonly HostTensor[], shape: number[]): HostTensor {
  const [q, k, v, slots, pos] = src;
  const [N, Hq, D] = shape;
  const [S, L, Hk] = k.shape;
  const rep = Hq / Hk;
  const scale = node.argOf<number>('scale');
  const rq = reader(q), rk = reader(k), rv = reader(v);
  const out = new Float32Array(N * Hq * D);
  const sl = ints(slots), ps = ints(pos);
  const scores = new Float64Array(L);
  const acc = new Float64Array(D);
  const qv = new Float64Array(D);
  for (let n = 0; n < N; n++) {
    const p = ps[n];
    if (p < 0) continue;
    checkRow('attention', n, sl[n], p, S, L);
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / rep);
      for (let d = 0; d < D; d++) qv[d] = rq((n * Hq + h) * D + d);
      let max = -Infinity;
      for (let j = 0; j <= p; j++) {
        const base = ((sl[n] * L + j) * Hk + kh) * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += qv[d] * rk(base + d);
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j <= p; j++) {
        const e = Math.exp(scores[j] - max);
        sum += e;
        const base = ((sl[n] * L + j) * Hk + kh) * D;
        for (let d = 0; d < D; d++) acc[d] += e * rv(base + d);
      }
      for (let d = 0; d < D; d++) out[(n * Hq + h) * D + d] = acc[d] / sum;
    }
  }
  return hostTensor('f32', shape, out);
}
