// Contractions for the interpreter: matmul, linear, gather.
import type { Node } from './node.ts';
import type { HostTensor, TypedData } from './tensor-data.ts';
import { fp8e4m3ToF32 } from './numerics.ts';
import { allocData, floatArray, hostTensor, reader } from './tensor-data.ts';

/** Every e4m3 code's value: an fp8 LM head is 500M weights, too many for per-element decoding. */
const FP8_VALUES = Float32Array.from({ length: 256 }, (_, c) => fp8e4m3ToF32(c));

/** Row `row` of a weight as f32 values (fast path for bf16: shift the bits into place). */
function weightRow(w: HostTensor, row: number, k: number, out: Float32Array): void {
  const off = row * k;
  if (w.dtype === 'f32') { out.set((w.data as Float32Array).subarray(off, off + k)); return; }
  if (w.dtype === 'bf16' && out instanceof Float32Array) {
    const src = w.data as Uint16Array;
    const u = new Uint32Array(out.buffer, out.byteOffset, k);
    for (let i = 0; i < k; i++) u[i] = src[off + i] << 16;
    return;
  }
  if (w.dtype === 'fp8e4m3') {
    const src = w.data as Uint8Array;
    for (let i = 0; i < k; i++) out[i] = FP8_VALUES[src[off + i]];
    return;
  }
  const r = reader(w);
  for (let i = 0; i < k; i++) out[i] = r(off + i);
}

function asF32(t: HostTensor): Float32Array {
  if (t.dtype === 'f32') return t.data as Float32Array;
  const r = reader(t);
  const out = floatArray(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = r(i);
  return out;
}

export function evalContraction(n: Node, src: readonly HostTensor[], shape: number[]): HostTensor {
  if (n.op === 'gather') {
    const [table, idx] = src;
    const rowLen = table.shape.slice(1).reduce((a, b) => a * b, 1);
    const rows = table.shape[0];
    const ri = reader(idx);
    const out = allocData(table.dtype, idx.data.length * rowLen) as unknown as { [i: number]: number | bigint };
    const td = table.data as unknown as { [i: number]: number | bigint };
    for (let i = 0; i < idx.data.length; i++) {
      const id = ri(i);
      if (!(id >= 0 && id < rows)) throw new RangeError(`gather: index ${id} at position ${i} is outside [0, ${rows})`);
      for (let j = 0; j < rowLen; j++) out[i * rowLen + j] = td[id * rowLen + j];
    }
    return hostTensor(table.dtype, shape, out as unknown as TypedData);
  }
  const [a, b] = src;
  const x = asF32(a);
  const k = a.shape[a.shape.length - 1];
  const m = k === 0 ? 0 : x.length / k;
  const out = floatArray(shape.reduce((p, q) => p * q, 1));
  if (n.op === 'linear') {
    const nOut = b.shape[0];
    const wrow = floatArray(k);
    for (let j = 0; j < nOut; j++) {
      weightRow(b, j, k, wrow);
      for (let i = 0; i < m; i++) {
        let s = 0;
        const xo = i * k;
        for (let q = 0; q < k; q++) s += x[xo + q] * wrow[q];
        out[i * nOut + j] = s;
      }
    }
  } else {
    const nOut = b.shape[1];
    const bf = asF32(b);
    for (let i = 0; i < m; i++) for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += x[i * k + q] * bf[q * nOut + j];
      out[i * nOut + j] = s;
    }
  }
  return hostTensor('f32', shape, out);
}
