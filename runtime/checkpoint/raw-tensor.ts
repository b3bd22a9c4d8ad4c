// What the format readers (safetensors, torch zip) hand to the rest of the loader: tensor descriptions
// whose bytes are read on demand straight into the caller's buffer, so validation and mapping happen
// before any data is read and no tensor ever passes through an intermediate copy.
import fs from 'node:fs';
import os from 'node:os';
import type { DType } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { allocData, numel } from '../../compiler/ir/tensor-data.ts';
import { CheckpointError } from './errors.ts';

/** Called after each chunk is read, with that chunk's size in bytes. */
export type OnBytes = (bytes: number) => void;

export interface RawTensor {
  readonly name: string;
  /** Our dtype when the file's dtype has one, else null (the tensor can be described but not loaded). */
  readonly dtype: DType | null;
  /** The dtype as the file spells it: "BF16" (safetensors) or "BFloat16Storage" (torch). */
  readonly sourceDtype: string;
  readonly shape: readonly number[];
  readonly byteLength: number;
  readonly file: string;
  /** Identity of the bytes: tensors with equal keys are views of the same stored data (tied). */
  readonly storageKey: string;
  /** Byte offset of this view inside its storage. */
  readonly storageOffset: number;
  /** Fill dst with the tensor's bytes starting at byte `offset` (default 0) of the tensor. */
  read(dst: Uint8Array, onBytes?: OnBytes, offset?: number): void;
}

/** An opened checkpoint in one format: every stored tensor, plus which ones share storage. */
export interface TensorSet {
  readonly files: string[];
  /** Total size of the weight files in bytes. */
  readonly bytes: number;
  readonly tensors: ReadonlyMap<string, RawTensor>;
  readonly tied: string[][];
  close(): void;
}

export const WEIGHT_DTYPES: readonly DType[] = ['bf16', 'f16', 'f32'];

// Below Linux's 2 GiB single-read limit, and small enough for smooth progress reporting.
const CHUNK = 64 << 20;

if (os.endianness() !== 'LE') throw new Error('checkpoint loading assumes a little-endian host');

/** A read-only file with positional reads that fail with a CheckpointError naming the tensor. */
export class FileReader {
  readonly path: string;
  readonly size: number;
  private fd: number;

  constructor(path: string) {
    this.path = path;
    try {
      this.fd = fs.openSync(path, 'r');
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      throw new CheckpointError(path, `cannot open: ${(e as Error).message}`);
    }
  }

  readAt(dst: Uint8Array, position: number, tensor?: string, onBytes?: OnBytes): void {
    let done = 0;
    while (done < dst.byteLength) {
      const want = Math.min(CHUNK, dst.byteLength - done);
      const got = fs.readSync(this.fd, dst, done, want, position + done);
      if (got === 0) {
        const what = `file is truncated: ended at byte ${position + done}, ${dst.byteLength - done} bytes short`;
        throw new CheckpointError(this.path, what, tensor !== undefined ? { tensor } : {});
      }
      done += got;
      onBytes?.(got);
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export const bytesOf = (t: HostTensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** Load one raw tensor into a fresh HostTensor; only weight dtypes (bf16, f16, f32) are accepted. */
export function loadRawTensor(raw: RawTensor, onBytes?: OnBytes): HostTensor {
  if (raw.dtype === null || !WEIGHT_DTYPES.includes(raw.dtype)) {
    throw new CheckpointError(raw.file, `dtype ${raw.sourceDtype} is not supported for weights (expected BF16, F16 or F32)`, { tensor: raw.name });
  }
  const t: HostTensor = { dtype: raw.dtype, shape: [...raw.shape], data: allocData(raw.dtype, numel(raw.shape)) };
  raw.read(bytesOf(t), onBytes);
  return t;
}

/** Load every tensor of a set (small checkpoints, tests); tied tensors come back sharing one HostTensor. */
export function loadTensorSet(set: TensorSet): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const seen = new Map<string, HostTensor>();
  for (const raw of set.tensors.values()) {
    const key = `${raw.storageKey}@${raw.storageOffset}|${raw.sourceDtype}|${raw.shape.join(',')}`;
    const t = seen.get(key) ?? loadRawTensor(raw);
    seen.set(key, t);
    out.set(raw.name, t);
  }
  return out;
}
