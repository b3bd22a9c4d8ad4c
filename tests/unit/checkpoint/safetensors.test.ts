import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { readSafetensors } from '../../../runtime/checkpoint/safetensors.ts';
import { openSafetensorsIndex } from '../../../runtime/checkpoint/safetensors-index.ts';
import { safetensorsEntry, safetensorsHeader, writeSafetensors } from '../../../runtime/checkpoint/safetensors-write.ts';
import { loadTensorSet } from '../../../runtime/checkpoint/raw-tensor.ts';
import { fixture, randomBytes, sameBytes, tempDir } from './helpers.ts';

const entries = () => [
  { name: 'a.weight', dtype: 'BF16', shape: [4, 3], data: randomBytes(24, 1) },
  { name: 'b.bias', dtype: 'F32', shape: [5], data: randomBytes(20, 2) },
  { name: 'c.half', dtype: 'F16', shape: [2, 2], data: randomBytes(8, 3) },
];

/** Write a file from a raw header object (so tests can break it) followed by `data`. */
function writeRaw(file: string, header: unknown, data: Uint8Array): void {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

const expectError = (file: string, re: RegExp): void => {
  expect(() => readSafetensors(file)).toThrow(re);
};

describe('safetensors reader', () => {
  it('round-trips the writer, with dtype-true storage', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    writeSafetensors(file, entries());
    const m = readSafetensors(file);
    expect([...m.keys()]).toEqual(['a.weight', 'b.bias', 'c.half']);
    const a = m.get('a.weight')!;
    expect(a.dtype).toBe('bf16');
    expect(a.shape).toEqual([4, 3]);
    expect(a.data).toBeInstanceOf(Uint16Array);
    expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength)).toEqual(Buffer.from(randomBytes(24, 1)));
    expect(m.get('b.bias')!.data).toBeInstanceOf(Float32Array);
    expect(m.get('c.half')!.dtype).toBe('f16');
  });

  it('writes HostTensors and streams producer data', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    const t = hostTensor('f32', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
    writeSafetensors(file, [safetensorsEntry('t', t), { name: 's', dtype: 'BF16', shape: [4], data: (emit) => { emit(randomBytes(4)); emit(randomBytes(4, 9)); } }]);
    const m = readSafetensors(file);
    expect(sameBytes(m.get('t')!, t)).toBe(true);
    expect(() => writeSafetensors(file, [{ name: 's', dtype: 'BF16', shape: [4], data: (emit) => emit(randomBytes(2)) }])).toThrow(/produced 2 bytes, expected 8/);
  });

  it('reads the fixture', () => {
    const m = readSafetensors(path.join(fixture('lstm-tiny'), 'model.safetensors'));
    expect(m.get('forget_emb.0.weight')!.shape).toEqual([512, 64]);
    expect(m.size).toBe(14);
  });
});

describe('safetensors reader: malformed files', () => {
  const good = () => {
    const h = safetensorsHeader(entries());
    return { header: JSON.parse(Buffer.from(h.subarray(8)).toString()) as Record<string, any>, data: Buffer.concat(entries().map((e) => e.data)) };
  };

  it('file too small for the header length', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectError(file, /m\.safetensors: file is too small \(3 bytes\) to hold the 8-byte header length/);
  });

  it('truncated header / header length beyond the file', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    writeSafetensors(file, entries());
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, 40));
    expectError(file, /header length \d+ is not plausible \(the file has 40 bytes/);
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(1n << 60n);
    fs.writeFileSync(file, huge);
    expectError(file, /header length 1152921504606846976 is not plausible/);
  });

  it('header is not JSON, or not an object', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    writeRaw(file, '{"a.weight": {"dtype": "BF16", ', Buffer.alloc(0));
    expectError(file, /m\.safetensors: header is not valid JSON/);
    writeRaw(file, [1, 2, 3], Buffer.alloc(0));
    expectError(file, /header is not a JSON object/);
  });

  it('entries without dtype, shape or offsets', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    const { header, data } = good();
    writeRaw(file, { ...header, 'a.weight': { shape: [4, 3], data_offsets: [0, 24] } }, data);
    expectError(file, /tensor a\.weight: header entry has no "dtype"/);
    writeRaw(file, { ...header, 'a.weight': { dtype: 'BF16', shape: [4, -3], data_offsets: [0, 24] } }, data);
    expectError(file, /tensor a\.weight: "shape" must be a list of non-negative integers/);
    writeRaw(file, { ...header, 'a.weight': { dtype: 'BF16', shape: [4, 3] } }, data);
    expectError(file, /tensor a\.weight: "data_offsets" must be \[begin, end\]/);
  });

  it('unknown dtype', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    const { header, data } = good();
    writeRaw(file, { ...header, 'a.weight': { ...header['a.weight'], dtype: 'Q7' } }, data);
    expectError(file, /tensor a\.weight: unknown dtype "Q7" \(expected one of BOOL, U8/);
  });

  it('known but unsupported dtype for weights', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    writeSafetensors(file, [{ name: 'ids', dtype: 'I32', shape: [6], data: randomBytes(24) }]);
    expectError(file, /tensor ids: dtype I32 is not supported for weights \(expected BF16, F16 or F32\)/);
  });

  it('offsets inconsistent with the shape, out of range, or overlapping', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    const { header, data } = good();
    writeRaw(file, { ...header, 'a.weight': { ...header['a.weight'], data_offsets: [0, 20] } }, data);
    expectError(file, /tensor a\.weight: data_offsets \[0, 20\] hold 20 bytes but BF16 \[4, 3\] needs 24/);
    writeRaw(file, { ...header, 'c.half': { ...header['c.half'], data_offsets: [1000, 1008] } }, data);
    expectError(file, /tensor c\.half: file is truncated or data_offsets are out of range: data starts past the end/);
    writeRaw(file, { ...header, 'c.half': { ...header['c.half'], data_offsets: [40, 32] } }, data);
    expectError(file, /tensor c\.half: "data_offsets" must be \[begin, end\] with 0 <= begin <= end/);
    writeRaw(file, { ...header, 'c.half': { ...header['c.half'], data_offsets: [20, 28] } }, data);
    expectError(file, /tensor c\.half: data_offsets \[20, 28\] overlap tensor a\.weight \[0, 24\]/);
  });

  it('truncated data names the first tensor cut off', () => {
    const file = path.join(tempDir(), 'm.safetensors');
    writeSafetensors(file, entries());
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10)); // data: a [0, 24), b [24, 44), c [44, 52)
    expectError(file, /tensor b\.bias: file is truncated or data_offsets are out of range: data ends past the end of the file/);
  });
});

describe('sharded safetensors', () => {
  const shard = (dir: string) => {
    const es = entries();
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), es.slice(0, 2));
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), es.slice(2));
    return { 'a.weight': 'model-00001-of-00002.safetensors', 'b.bias': 'model-00001-of-00002.safetensors', 'c.half': 'model-00002-of-00002.safetensors' };
  };
  const writeIndex = (dir: string, weightMap: unknown): string => {
    const p = path.join(dir, 'model.safetensors.index.json');
    fs.writeFileSync(p, JSON.stringify({ metadata: { total_size: 52 }, weight_map: weightMap }));
    return p;
  };

  it('reads every shard', () => {
    const dir = tempDir();
    const set = openSafetensorsIndex(writeIndex(dir, shard(dir)));
    try {
      expect(set.files.map((f) => path.basename(f))).toEqual(['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
      const m = loadTensorSet(set);
      expect([...m.keys()].sort()).toEqual(['a.weight', 'b.bias', 'c.half']);
    } finally {
      set.close();
    }
  });

  it('index and shards must agree', () => {
    const dir = tempDir();
    const wm = shard(dir);
    expect(() => openSafetensorsIndex(writeIndex(dir, { ...wm, 'd.extra': 'model-00002-of-00002.safetensors' })))
      .toThrow(/model-00002-of-00002\.safetensors: tensor d\.extra: listed in the index but missing from this shard/);
    const { 'b.bias': _, ...noB } = wm;
    expect(() => openSafetensorsIndex(writeIndex(dir, noB))).toThrow(/tensor b\.bias: found in this shard but is not listed in the index/);
    expect(() => openSafetensorsIndex(writeIndex(dir, { ...wm, 'c.half': '../elsewhere.safetensors' }))).toThrow(/expected a shard file name in the same folder/);
    expect(() => openSafetensorsIndex(writeIndex(dir, [1]))).toThrow(/field "weight_map": expected an object/);
    expect(() => openSafetensorsIndex(writeIndex(dir, { ...wm, 'c.half': 'gone.safetensors' }))).toThrow(/gone\.safetensors: cannot open/);
  });
});
