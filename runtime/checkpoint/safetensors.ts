// safetensors reader: an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
// Only the header is read up front; every tensor is later read straight from its file position into
// its own typed array, so a multi-GB checkpoint is never held twice.
import type { DType } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { CheckpointError, fmtShape } from './errors.ts';
import type { RawTensor, TensorSet } from './raw-tensor.ts';
import { FileReader, loadTensorSet } from './raw-tensor.ts';

/** Every dtype the safetensors format defines, with its size and our dtype where we have one. */
const DTYPES: Readonly<Record<string, { size: number; dtype: DType | null }>> = {
  BOOL: { size: 1, dtype: 'bool' }, U8: { size: 1, dtype: null }, I8: { size: 1, dtype: null },
  F8_E4M3: { size: 1, dtype: 'fp8e4m3' }, F8_E5M2: { size: 1, dtype: null },
  I16: { size: 2, dtype: null }, U16: { size: 2, dtype: null }, F16: { size: 2, dtype: 'f16' }, BF16: { size: 2, dtype: 'bf16' },
  I32: { size: 4, dtype: 'i32' }, U32: { size: 4, dtype: null }, F32: { size: 4, dtype: 'f32' },
  I64: { size: 8, dtype: 'i64' }, U64: { size: 8, dtype: null }, F64: { size: 8, dtype: null },
};

// The reference implementation refuses headers over 100 MB; a larger length means a corrupt file.
const MAX_HEADER = 100_000_000;

interface Entry { name: string; dtype: string; shape: number[]; begin: number; end: number }

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function readHeader(f: FileReader): { header: Record<string, unknown>; dataStart: number } {
  if (f.size < 8) throw new CheckpointError(f.path, `file is too small (${f.size} bytes) to hold the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  f.readAt(lenBuf, 0);
  const len = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (len < 2n || len > BigInt(f.size - 8) || len > BigInt(MAX_HEADER)) {
    throw new CheckpointError(f.path, `header length ${len} is not plausible (the file has ${f.size} bytes, so at most ${Math.max(0, Math.min(f.size - 8, MAX_HEADER))})`);
  }
  const bytes = new Uint8Array(Number(len));
  f.readAt(bytes, 8);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new CheckpointError(f.path, `header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError(f.path, 'header is not a JSON object');
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + Number(len) };
}

function parseEntry(name: string, v: unknown, file: string): Entry {
  const bad = (what: string): never => { throw new CheckpointError(file, what, { tensor: name }); };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = v as Record<string, unknown>;
  if (typeof dtype !== 'string') return bad('header entry has no "dtype" string');
  const info = DTYPES[dtype] ?? bad(`unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPES).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isCount)) return bad(`"shape" must be a list of non-negative integers, found ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    return bad(`"data_offsets" must be [begin, end] with 0 <= begin <= end, found ${JSON.stringify(offsets)}`);
  }
  const need = shape.reduce((a: number, b: number) => a * b, 1) * info.size;
  const [begin, end] = offsets as number[];
  if (end - begin !== need) {
    return bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} ${fmtShape(shape)} needs ${need}`);
  }
  return { name, dtype, shape, begin, end };
}

function checkLayout(entries: Entry[], dataLen: number, f: FileReader): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let reach: Entry | undefined; // the tensor reaching furthest so far
  for (const e of sorted) {
    if (e.end === e.begin) continue;
    if (reach !== undefined && e.begin < reach.end) {
      throw new CheckpointError(f.path, `data_offsets [${e.begin}, ${e.end}] overlap tensor ${reach.name} [${reach.begin}, ${reach.end}]`, { tensor: e.name });
    }
    if (reach === undefined || e.end > reach.end) reach = e;
  }
  for (const e of sorted) {
    if (e.end > dataLen) {
      const what = e.begin >= dataLen ? 'starts' : 'ends';
      throw new CheckpointError(f.path, `file is truncated or data_offsets are out of range: data ${what} past the end of the file `
        + `(data_offsets [${e.begin}, ${e.end}], the data region has ${dataLen} bytes)`, { tensor: e.name });
    }
  }
}

/** Open one .safetensors file: header parsed and checked, no tensor data read yet. */
export function openSafetensors(path: string): TensorSet {
  const f = new FileReader(path);
  try {
    const { header, dataStart } = readHeader(f);
    const meta = header.__metadata__;
    if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
      throw new CheckpointError(path, '"__metadata__" is not an object', { field: '__metadata__' });
    }
    const entries = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => parseEntry(k, v, path));
    checkLayout(entries, f.size - dataStart, f);
    const tensors = new Map<string, RawTensor>();
    for (const e of entries) {
      const info = DTYPES[e.dtype];
      tensors.set(e.name, {
        name: e.name, dtype: info.dtype, sourceDtype: e.dtype, shape: e.shape, byteLength: e.end - e.begin,
        file: path, storageKey: `${path}#${e.name}`, storageOffset: 0,
        read: (dst, onBytes, offset = 0) => f.readAt(dst, dataStart + e.begin + offset, e.name, onBytes),
      });
    }
    return { files: [path], bytes: f.size, tensors, tied: [], close: () => f.close() };
  } catch (e) {
    f.close();
    throw e;
  }
}

/** Read a whole .safetensors file into memory (weights only: BF16, F16, F32). */
export function readSafetensors(path: string): Map<string, HostTensor> {
  const set = openSafetensors(path);
  try {
    return loadTensorSet(set);
  } finally {
    set.close();
  }
}
