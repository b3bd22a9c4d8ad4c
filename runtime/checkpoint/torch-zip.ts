// The zip container of torch.save (PyTorch >= 1.6): entries are stored uncompressed, and local headers
// carry no sizes (data-descriptor flag), so the central directory is the only source of truth.
// zip64 records appear once the archive or an entry passes 4 GiB.
import { CheckpointError } from './errors.ts';
import type { FileReader } from './raw-tensor.ts';

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc32: number;
  readonly size: number;
  /** Offset of the local file header; the data offset needs that header (see dataOffset). */
  readonly headerOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOC64 = 0x07064b50;
const SIG_CEN = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

function readBytes(f: FileReader, pos: number, n: number): DataView {
  if (pos < 0 || pos + n > f.size) throw new CheckpointError(f.path, `zip structure at byte ${pos} (+${n}) lies outside the file (${f.size} bytes)`);
  const b = new Uint8Array(n);
  f.readAt(b, pos);
  return new DataView(b.buffer);
}

function findEocd(f: FileReader): { at: number; eocd: DataView } {
  const tailLen = Math.min(f.size, EOCD_SIZE + MAX_COMMENT);
  const tail = readBytes(f, f.size - tailLen, tailLen);
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tail.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tail.getUint16(i + 20, true) === tailLen) {
      return { at: f.size - tailLen + i, eocd: new DataView(tail.buffer, i, EOCD_SIZE) };
    }
  }
  throw new CheckpointError(f.path, 'not a zip archive or truncated (no end-of-central-directory record); legacy pre-1.6 torch.save files are not supported');
}

/** Where the central directory is and how many entries it has, following zip64 records when present. */
function locateDirectory(f: FileReader): { offset: number; size: number; count: number } {
  const { at, eocd } = findEocd(f);
  let count = eocd.getUint16(10, true);
  let size = eocd.getUint32(12, true);
  let offset = eocd.getUint32(16, true);
  if (at >= 20 && readBytes(f, at - 20, 4).getUint32(0, true) === SIG_LOC64) {
    const loc = readBytes(f, at - 20, 20);
    const rec = readBytes(f, Number(loc.getBigUint64(8, true)), 56);
    if (rec.getUint32(0, true) !== SIG_EOCD64) throw new CheckpointError(f.path, 'zip64 end-of-central-directory record is missing or corrupt');
    count = Number(rec.getBigUint64(32, true));
    size = Number(rec.getBigUint64(40, true));
    offset = Number(rec.getBigUint64(48, true));
  } else if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    throw new CheckpointError(f.path, 'zip64 archive without a zip64 end-of-central-directory locator');
  }
  return { offset, size, count };
}

/** Replace the 0xFFFFFFFF placeholders of a central entry with the values of its zip64 extra field. */
function applyZip64(extra: DataView, e: { size: number; compSize: number; headerOffset: number }, fail: (w: string) => never): void {
  const wanted = (['size', 'compSize', 'headerOffset'] as const).filter((k) => e[k] === 0xffffffff);
  if (wanted.length === 0) return;
  for (let p = 0; p + 4 <= extra.byteLength;) {
    const id = extra.getUint16(p, true);
    const len = extra.getUint16(p + 2, true);
    if (id === 0x0001) {
      if (len < 8 * wanted.length || p + 4 + len > extra.byteLength) fail('zip64 extra field is too short');
      wanted.forEach((k, i) => { e[k] = Number(extra.getBigUint64(p + 4 + 8 * i, true)); });
      return;
    }
    p += 4 + len;
  }
  fail('sizes need a zip64 extra field, which is missing');
}

/** Parse the central directory into entries by name. */
export function readZipDirectory(f: FileReader): Map<string, ZipEntry> {
  const dir = locateDirectory(f);
  if (dir.offset + dir.size > f.size) throw new CheckpointError(f.path, `file is truncated: the zip central directory ends at byte ${dir.offset + dir.size}, the file has ${f.size}`);
  const cd = readBytes(f, dir.offset, dir.size);
  const names = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < dir.count; i++) {
    const fail = (w: string): never => { throw new CheckpointError(f.path, `zip central directory entry ${i}: ${w}`); };
    if (p + 46 > cd.byteLength || cd.getUint32(p, true) !== SIG_CEN) fail('bad signature or truncated directory');
    const nameLen = cd.getUint16(p + 28, true);
    const extraLen = cd.getUint16(p + 30, true);
    const commentLen = cd.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > cd.byteLength) fail('runs past the end of the directory');
    const name = names.decode(new Uint8Array(cd.buffer, p + 46, nameLen));
    const e = { size: cd.getUint32(p + 24, true), compSize: cd.getUint32(p + 20, true), headerOffset: cd.getUint32(p + 42, true) };
    applyZip64(new DataView(cd.buffer, p + 46 + nameLen, extraLen), e, fail);
    entries.set(name, { name, method: cd.getUint16(p + 10, true), crc32: cd.getUint32(p + 16, true), size: e.size, headerOffset: e.headerOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** File offset of an entry's bytes; only stored (uncompressed) entries can be read in place. */
export function dataOffset(f: FileReader, e: ZipEntry, tensor?: string): number {
  const site = tensor !== undefined ? { tensor } : {};
  if (e.method !== 0) throw new CheckpointError(f.path, `zip entry ${e.name} is compressed (method ${e.method}); only stored entries are supported`, site);
  if (e.headerOffset + 30 > f.size) throw new CheckpointError(f.path, `file is truncated: zip entry ${e.name} starts past the end of the file`, site);
  const h = readBytes(f, e.headerOffset, 30);
  if (h.getUint32(0, true) !== SIG_LOCAL) throw new CheckpointError(f.path, `zip entry ${e.name}: bad local header signature`, site);
  const start = e.headerOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
  if (start + e.size > f.size) {
    throw new CheckpointError(f.path, `file is truncated: zip entry ${e.name} needs bytes [${start}, ${start + e.size}), the file has ${f.size}`, site);
  }
  return start;
}
