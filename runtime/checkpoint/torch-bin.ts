// pytorch_model.bin: a zip holding <archive>/data.pkl (the pickled state dict, whose tensors point at
// storages by key) and <archive>/data/<key> (each storage's raw little-endian bytes).
import zlib from 'node:zlib';
import type { DType } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { CheckpointError, fmtShape } from './errors.ts';
import type { PyCallable } from './pickle.ts';
import { unpickle } from './pickle.ts';
import type { RawTensor, TensorSet } from './raw-tensor.ts';
import { FileReader, loadTensorSet } from './raw-tensor.ts';
import type { ZipEntry } from './torch-zip.ts';
import { dataOffset, readZipDirectory } from './torch-zip.ts';

/** torch's legacy storage classes, which torch.save still names in the pickle. */
const STORAGES: Readonly<Record<string, { size: number; dtype: DType | null }>> = {
  BFloat16Storage: { size: 2, dtype: 'bf16' }, HalfStorage: { size: 2, dtype: 'f16' }, FloatStorage: { size: 4, dtype: 'f32' },
  DoubleStorage: { size: 8, dtype: null }, LongStorage: { size: 8, dtype: 'i64' }, IntStorage: { size: 4, dtype: 'i32' },
  ShortStorage: { size: 2, dtype: null }, CharStorage: { size: 1, dtype: null }, ByteStorage: { size: 1, dtype: null },
  BoolStorage: { size: 1, dtype: 'bool' },
};

class StorageType { readonly name: string; constructor(name: string) { this.name = name; } }
interface StorageRef { key: string; type: string; numel: number }
class TensorRef {
  readonly storage: StorageRef; readonly offset: number; readonly shape: number[]; readonly stride: number[];
  constructor(storage: StorageRef, offset: number, shape: number[], stride: number[]) {
    this.storage = storage; this.offset = offset; this.shape = shape; this.stride = stride;
  }
}

const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
const notStateDict = (file: string, why: string): CheckpointError => new CheckpointError(file, `is not a state dict (${why})`);

/** The only globals a state dict needs; anything else means the pickle is not a plain state dict. */
function whitelist(file: string): (module: string, name: string) => unknown {
  const fn = (pyName: string, call: (args: readonly unknown[]) => unknown): PyCallable => ({ pyName, call });
  const rebuild = fn('torch._utils._rebuild_tensor_v2', ([storage, offset, shape, stride]) => {
    if (typeof storage !== 'object' || storage === null || !('key' in storage)) throw notStateDict(file, 'a tensor without a storage');
    if (!Number.isSafeInteger(offset) || !isIntList(shape) || !isIntList(stride)) throw notStateDict(file, 'a tensor with malformed size/stride');
    return new TensorRef(storage as StorageRef, offset as number, [...shape], [...stride]);
  });
  const table: Record<string, unknown> = {
    'torch._utils._rebuild_tensor_v2': rebuild,
    'torch._utils._rebuild_parameter': fn('torch._utils._rebuild_parameter', ([t]) => t),
    'collections.OrderedDict': fn('collections.OrderedDict', ([items]) => new Map(Array.isArray(items) ? (items as [unknown, unknown][]) : [])),
  };
  return (module, name) => {
    const full = `${module}.${name}`;
    if (module === 'torch' && name in STORAGES) return new StorageType(name);
    if (full in table) return table[full];
    throw notStateDict(file, `the pickle references ${full}, which a state dict does not use`);
  };
}

function persistentLoad(file: string): (pid: unknown) => StorageRef {
  return (pid) => {
    const [tag, type, key, , numel] = Array.isArray(pid) ? pid : [];
    if (tag !== 'storage' || !(type instanceof StorageType) || typeof key !== 'string' || !Number.isSafeInteger(numel)) {
      throw notStateDict(file, `unexpected persistent id ${JSON.stringify(pid)}`);
    }
    return { key, type: type.name, numel: numel as number };
  };
}

const isContiguous = (shape: number[], stride: number[]): boolean => {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
};

function findArchive(entries: Map<string, ZipEntry>, file: string): string {
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) throw new CheckpointError(file, `expected exactly one <archive>/data.pkl in the zip, found ${pkls.length}: not a torch.save checkpoint`);
  return pkls[0].slice(0, -'data.pkl'.length);
}

/** Open a pytorch_model.bin: the pickle is run and checked, no tensor data read yet. */
export function openTorchBin(path: string): TensorSet {
  const f = new FileReader(path);
  try {
    const entries = readZipDirectory(f);
    const prefix = findArchive(entries, path);
    const byteorder = entries.get(`${prefix}byteorder`);
    if (byteorder !== undefined && byteorder.size < 16) {
      const b = new Uint8Array(byteorder.size);
      f.readAt(b, dataOffset(f, byteorder));
      if (new TextDecoder().decode(b) !== 'little') throw new CheckpointError(path, 'big-endian checkpoints are not supported', { field: 'byteorder' });
    }
    const pklEntry = entries.get(`${prefix}data.pkl`) as ZipEntry;
    const pkl = new Uint8Array(pklEntry.size);
    f.readAt(pkl, dataOffset(f, pklEntry));
    // Only the pickle is CRC-checked: checking storages would be a second pass over gigabytes, and their
    // sizes, shapes and bounds are all checked anyway.
    if (zlib.crc32(pkl) !== pklEntry.crc32) throw new CheckpointError(path, `zip entry ${pklEntry.name} fails its CRC check (corrupt file)`);
    const root = unpickle(pkl, path, { global: whitelist(path), persistentLoad: persistentLoad(path) });
    if (!(root instanceof Map)) throw notStateDict(path, `the pickle holds ${root instanceof TensorRef ? 'a bare tensor' : Array.isArray(root) ? 'a list or tuple' : typeof root}, not a dict of tensors`);
    const tensors = new Map<string, RawTensor>();
    const byStorage = new Map<string, string[]>();
    for (const [name, t] of root) {
      if (typeof name !== 'string') throw notStateDict(path, `a key ${JSON.stringify(name)} is not a string`);
      if (!(t instanceof TensorRef)) throw notStateDict(path, `entry "${name}" is not a tensor`);
      tensors.set(name, describe(f, entries, prefix, name, t));
      byStorage.set(t.storage.key, [...(byStorage.get(t.storage.key) ?? []), name]);
    }
    const tied = [...byStorage.values()].filter((g) => g.length > 1);
    return { files: [path], bytes: f.size, tensors, tied, close: () => f.close() };
  } catch (e) {
    f.close();
    throw e;
  }
}

function describe(f: FileReader, entries: Map<string, ZipEntry>, prefix: string, name: string, t: TensorRef): RawTensor {
  const bad = (what: string): never => { throw new CheckpointError(f.path, what, { tensor: name }); };
  const info = STORAGES[t.storage.type];
  if (t.shape.length !== t.stride.length) bad(`size ${fmtShape(t.shape)} and stride ${fmtShape(t.stride)} differ in length`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n > 0 && !isContiguous(t.shape, t.stride)) bad(`non-contiguous tensor (size ${fmtShape(t.shape)}, stride ${fmtShape(t.stride)}) is not supported`);
  if (t.offset + n > t.storage.numel) bad(`elements [${t.offset}, ${t.offset + n}) lie outside its storage of ${t.storage.numel}`);
  const entry = entries.get(`${prefix}data/${t.storage.key}`) ?? bad(`storage ${prefix}data/${t.storage.key} is missing from the zip`);
  if (entry.size < t.storage.numel * info.size) bad(`storage ${entry.name} holds ${entry.size} bytes, ${t.storage.numel} x ${info.size} needed`);
  const start = dataOffset(f, entry, name) + t.offset * info.size;
  return {
    name, dtype: info.dtype, sourceDtype: t.storage.type, shape: t.shape, byteLength: n * info.size, file: f.path,
    storageKey: `${f.path}#${t.storage.key}`, storageOffset: t.offset * info.size,
    read: (dst, onBytes, offset = 0) => f.readAt(dst, start + offset, name, onBytes),
  };
}

/** Read a whole pytorch_model.bin state dict into memory (weights only: bf16, f16, f32). */
export function readTorchBin(path: string): Map<string, HostTensor> {
  const set = openTorchBin(path);
  try {
    return loadTensorSet(set);
  } finally {
    set.close();
  }
}
