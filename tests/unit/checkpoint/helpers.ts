// Test helpers: temp folders, fixture access, and tiny writers for torch.save zips and their pickles,
// so every malformed input can be built in the test that needs it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach } from 'vitest';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { bytesOf } from '../../../runtime/checkpoint/raw-tensor.ts';

export const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/speculators');
export const FIXTURE_NAMES = ['lstm-tiny', 'lstm-tiny-bin', 'lstm-wide-input', 'mlp-tied', 'mlp-untied'] as const;
export const fixture = (name: string): string => path.join(FIXTURES, name);
export const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(fixture(name), 'config.json'), 'utf8'));

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temp folder, removed after the current test. */
export function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'arcticc-ckpt-'));
  made.push(d);
  return d;
}

/** A temp checkpoint folder holding `config` as config.json. */
export function checkpointDir(config: unknown): string {
  const d = tempDir();
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(config));
  return d;
}

export const sameBytes = (a: HostTensor, b: HostTensor): boolean =>
  a.dtype === b.dtype && a.shape.join() === b.shape.join() && Buffer.compare(bytesOf(a), bytesOf(b)) === 0;

/** Deterministic pseudo-random bytes. */
export function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- zip

export interface ZipInput { name: string; data: Uint8Array; method?: number }

/** A zip of stored entries like torch.save writes; zip64 forces the zip64 records even for small files. */
export function zipBytes(entries: readonly ZipInput[], opts: { zip64?: boolean } = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array): void => { chunks.push(b); pos += b.length; };
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = zlib.crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const offset = pos;
    push(local); push(name); push(e.data);
    const extra = opts.zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (opts.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(e.data.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    cen.writeUInt16LE(e.method ?? 0, 10);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 20);
    cen.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt16LE(extra.length, 30);
    cen.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    central.push(cen, name, extra);
  }
  const cdStart = pos;
  for (const c of central) push(c);
  const cdSize = pos - cdStart;
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdStart), 48);
    const recAt = pos;
    push(rec);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(recAt), 8);
    loc.writeUInt32LE(1, 16);
    push(loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdSize, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdStart, 16);
  push(eocd);
  return Buffer.concat(chunks);
}

// ------------------------------------------------------------------------------------------- pickle

/** Builds pickle bytes opcode by opcode (only what the tests need). */
export class Pickler {
  private parts: number[] = [];
  private bytes(...b: number[]): this { this.parts.push(...b); return this; }
  op(code: number): this { return this.bytes(code); }
  proto(v = 2): this { return this.bytes(0x80, v); }
  mark(): this { return this.bytes(0x28); }
  str(s: string): this {
    const b = [...Buffer.from(s, 'utf8')];
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return this.bytes(0x58, ...n, ...b);
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.bytes(0x4b, v);
    if (v >= 0 && v < 65536) return this.bytes(0x4d, v & 0xff, v >> 8);
    const n = Buffer.alloc(4);
    n.writeInt32LE(v);
    return this.bytes(0x4a, ...n);
  }
  global(module: string, name: string): this { return this.bytes(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')); }
  put(k: number): this { return this.bytes(0x71, k); }
  get(k: number): this { return this.bytes(0x68, k); }
  tuple(): this { return this.bytes(0x74); }
  intTuple(xs: readonly number[]): this { this.mark(); for (const x of xs) this.int(x); return this.tuple(); }
  emptyDict(): this { return this.bytes(0x7d); }
  emptyList(): this { return this.bytes(0x5d); }
  emptyTuple(): this { return this.bytes(0x29); }
  setitems(): this { return this.bytes(0x75); }
  appends(): this { return this.bytes(0x65); }
  reduce(): this { return this.bytes(0x52); }
  persid(): this { return this.bytes(0x51); }
  none(): this { return this.bytes(0x4e); }
  newfalse(): this { return this.bytes(0x89); }
  stop(): this { return this.bytes(0x2e); }
  done(): Uint8Array { return Uint8Array.from(this.parts); }

  /** torch._utils._rebuild_tensor_v2((storage ref), offset, size, stride, False, OrderedDict()). */
  tensor(t: BinTensor, storage: BinStorage): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storage.type).str(storage.key).str('cpu').int(storageNumel(storage)).tuple().persid();
    this.int(t.offset ?? 0).intTuple(t.shape).intTuple(t.stride ?? contiguousStride(t.shape)).newfalse();
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
}

// --------------------------------------------------------------------------------------- torch .bin

export interface BinStorage { key: string; type: string; data: Uint8Array }
export interface BinTensor { name: string; storage: string; shape: number[]; offset?: number; stride?: number[] }

const STORAGE_SIZES: Record<string, number> = { BFloat16Storage: 2, HalfStorage: 2, FloatStorage: 4, IntStorage: 4, LongStorage: 8 };
const storageNumel = (s: BinStorage): number => s.data.length / (STORAGE_SIZES[s.type] ?? 1);
export const contiguousStride = (shape: readonly number[]): number[] =>
  shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** The data.pkl torch.save writes for an OrderedDict state dict. */
export function stateDictPickle(tensors: readonly BinTensor[], storages: readonly BinStorage[]): Uint8Array {
  const p = new Pickler().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().put(0).mark();
  for (const t of tensors) {
    const s = storages.find((x) => x.key === t.storage);
    if (s === undefined) throw new Error(`no storage ${t.storage}`);
    p.str(t.name).tensor(t, s);
  }
  return p.setitems().stop().done();
}

/** Zip entries of a torch.save checkpoint; `pickle` replaces the generated data.pkl. */
export function torchBinEntries(tensors: readonly BinTensor[], storages: readonly BinStorage[], opts: { archive?: string; pickle?: Uint8Array } = {}): ZipInput[] {
  const a = opts.archive ?? 'archive';
  return [
    { name: `${a}/data.pkl`, data: opts.pickle ?? stateDictPickle(tensors, storages) },
    { name: `${a}/byteorder`, data: Buffer.from('little') },
    ...storages.map((s) => ({ name: `${a}/data/${s.key}`, data: s.data })),
    { name: `${a}/version`, data: Buffer.from('3\n') },
  ];
}

export function writeTorchBin(file: string, tensors: readonly BinTensor[], storages: readonly BinStorage[], opts: { zip64?: boolean; archive?: string; pickle?: Uint8Array } = {}): void {
  fs.writeFileSync(file, zipBytes(torchBinEntries(tensors, storages, opts), opts));
}

/** One storage per tensor, from in-memory tensors (bf16/f16/f32). */
export function binFromTensors(weights: ReadonlyMap<string, HostTensor>): { tensors: BinTensor[]; storages: BinStorage[] } {
  const type = { bf16: 'BFloat16Storage', f16: 'HalfStorage', f32: 'FloatStorage' } as Record<string, string>;
  const tensors: BinTensor[] = [];
  const storages: BinStorage[] = [];
  for (const [name, t] of weights) {
    const key = String(storages.length);
    storages.push({ key, type: type[t.dtype], data: bytesOf(t).slice() });
    tensors.push({ name, storage: key, shape: [...t.shape] });
  }
  return { tensors, storages };
}
