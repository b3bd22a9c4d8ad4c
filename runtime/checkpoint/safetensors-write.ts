// safetensors writer, used by tests and the benchmark generator. Tensor data can be produced chunk by
// chunk, so a multi-GB file is streamed to disk without ever being in memory at once.
import fs from 'node:fs';
import type { DType } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { bytesOf } from './raw-tensor.ts';

export interface SafetensorsEntry {
  name: string;
  /** safetensors dtype name: BF16, F16, F32, I32, ... */
  dtype: string;
  shape: readonly number[];
  /** The bytes, or a producer that emits exactly numel x itemsize bytes in chunks. */
  data: Uint8Array | ((emit: (chunk: Uint8Array) => void) => void);
}

const SIZES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};
const NAMES: Readonly<Record<DType, string>> = { f32: 'F32', f16: 'F16', bf16: 'BF16', fp8e4m3: 'F8_E4M3', i32: 'I32', i64: 'I64', bool: 'BOOL' };

export const safetensorsEntry = (name: string, t: HostTensor): SafetensorsEntry => ({ name, dtype: NAMES[t.dtype], shape: t.shape, data: bytesOf(t) });

/** The header bytes (length prefix included) for these entries, laid out in order. */
export function safetensorsHeader(entries: readonly SafetensorsEntry[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const e of entries) {
    const size = SIZES[e.dtype];
    if (size === undefined) throw new Error(`safetensors writer: unknown dtype ${e.dtype}`);
    const n = e.shape.reduce((a, b) => a * b, 1) * size;
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [at, at + n] };
    at += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keeps the data region 8-byte aligned
  const body = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

/** Write a .safetensors file; returns its size in bytes. */
export function writeSafetensors(path: string, entries: readonly SafetensorsEntry[], metadata?: Record<string, string>): number {
  const fd = fs.openSync(path, 'w');
  try {
    let pos = 0;
    const put = (b: Uint8Array): void => {
      for (let done = 0; done < b.byteLength;) done += fs.writeSync(fd, b, done, b.byteLength - done, pos + done);
      pos += b.byteLength;
    };
    put(safetensorsHeader(entries, metadata));
    for (const e of entries) {
      const want = e.shape.reduce((a, b) => a * b, 1) * SIZES[e.dtype];
      const start = pos;
      if (typeof e.data === 'function') e.data(put);
      else put(e.data);
      if (pos - start !== want) throw new Error(`safetensors writer: ${e.name} produced ${pos - start} bytes, expected ${want}`);
    }
    return pos;
  } finally {
    fs.closeSync(fd);
  }
}
