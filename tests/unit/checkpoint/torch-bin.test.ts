import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openTorchBin, readTorchBin } from '../../../runtime/checkpoint/torch-bin.ts';
import { readSafetensors } from '../../../runtime/checkpoint/safetensors.ts';
import type { BinStorage, BinTensor } from './helpers.ts';
import { Pickler, binFromTensors, fixture, randomBytes, sameBytes, stateDictPickle, tempDir, torchBinEntries, writeTorchBin, zipBytes } from './helpers.ts';

const storages: BinStorage[] = [
  { key: '0', type: 'BFloat16Storage', data: randomBytes(2 * 24, 1) },
  { key: '1', type: 'FloatStorage', data: randomBytes(4 * 5, 2) },
];
const tensors: BinTensor[] = [
  { name: 'w', storage: '0', shape: [4, 6] },
  { name: 'b', storage: '1', shape: [5] },
];

const binFile = (): string => path.join(tempDir(), 'pytorch_model.bin');

describe('pytorch_model.bin reader', () => {
  it('reads the fixture exactly like its safetensors twin', () => {
    const bin = readTorchBin(path.join(fixture('lstm-tiny-bin'), 'pytorch_model.bin'));
    const st = readSafetensors(path.join(fixture('lstm-tiny'), 'model.safetensors'));
    expect([...bin.keys()].sort()).toEqual([...st.keys()].sort());
    for (const [k, t] of bin) expect(sameBytes(t, st.get(k)!), k).toBe(true);
  });

  it('reads a generated state dict, as zip and as zip64', () => {
    for (const zip64 of [false, true]) {
      const file = binFile();
      writeTorchBin(file, tensors, storages, { zip64 });
      const m = readTorchBin(file);
      expect(m.get('w')!.dtype).toBe('bf16');
      expect(Buffer.from(m.get('w')!.data.buffer)).toEqual(Buffer.from(storages[0].data));
      expect(m.get('b')!.data).toBeInstanceOf(Float32Array);
    }
  });

  it('round-trips a fixture through the test writer', () => {
    const st = readSafetensors(path.join(fixture('mlp-tied'), 'model.safetensors'));
    const { tensors: t, storages: s } = binFromTensors(st);
    const file = binFile();
    writeTorchBin(file, t, s, { archive: 'pytorch_model' });
    const m = readTorchBin(file);
    for (const [k, v] of st) expect(sameBytes(m.get(k)!, v), k).toBe(true);
  });

  it('reports tensors sharing a storage as tied, and handles storage offsets', () => {
    const file = binFile();
    const shared: BinTensor[] = [
      { name: 'head.0.weight', storage: '0', shape: [4, 6] },
      { name: 'head.1.weight', storage: '0', shape: [4, 6] },
      { name: 'tail', storage: '0', shape: [2, 6], offset: 12 },
    ];
    writeTorchBin(file, shared, [storages[0]]);
    const set = openTorchBin(file);
    try {
      expect(set.tied).toEqual([['head.0.weight', 'head.1.weight', 'tail']]);
    } finally {
      set.close();
    }
    const m = readTorchBin(file);
    expect(m.get('head.0.weight')).toBe(m.get('head.1.weight')); // same view: read once
    expect(Buffer.from(m.get('tail')!.data.buffer)).toEqual(Buffer.from(storages[0].data.subarray(24)));
  });

  it('accepts size-1 dims with any stride, rejects non-contiguous views', () => {
    const file = binFile();
    writeTorchBin(file, [{ name: 'w', storage: '0', shape: [1, 24], stride: [7, 1] }], [storages[0]]);
    expect(readTorchBin(file).get('w')!.shape).toEqual([1, 24]);
    writeTorchBin(file, [{ name: 'w', storage: '0', shape: [6, 4], stride: [1, 6] }], [storages[0]]);
    expect(() => readTorchBin(file)).toThrow(/tensor w: non-contiguous tensor \(size \[6, 4\], stride \[1, 6\]\) is not supported/);
  });

  it('views outside their storage, missing storages, unsupported dtypes', () => {
    const file = binFile();
    writeTorchBin(file, [{ name: 'w', storage: '0', shape: [4, 6], offset: 2 }], [storages[0]]);
    expect(() => readTorchBin(file)).toThrow(/tensor w: elements \[2, 26\) lie outside its storage of 24/);
    const entries = torchBinEntries(tensors, storages).filter((e) => !e.name.endsWith('data/1'));
    fs.writeFileSync(file, zipBytes(entries));
    expect(() => readTorchBin(file)).toThrow(/tensor b: storage archive\/data\/1 is missing from the zip/);
    writeTorchBin(file, [{ name: 'ids', storage: '0', shape: [6] }], [{ key: '0', type: 'IntStorage', data: randomBytes(24) }]);
    expect(() => readTorchBin(file)).toThrow(/tensor ids: dtype IntStorage is not supported for weights/);
  });
});

describe('pytorch_model.bin reader: not a state dict', () => {
  const withPickle = (pickle: Uint8Array): string => {
    const file = binFile();
    writeTorchBin(file, tensors, storages, { pickle });
    return file;
  };

  it('a pickled list', () => {
    const file = withPickle(new Pickler().proto().emptyList().mark().int(1).int(2).appends().stop().done());
    expect(() => readTorchBin(file)).toThrow(/pytorch_model\.bin: is not a state dict \(the pickle holds a list or tuple, not a dict of tensors\)/);
  });

  it('a bare tensor', () => {
    const file = withPickle(new Pickler().proto().tensor(tensors[0], storages[0]).stop().done());
    expect(() => readTorchBin(file)).toThrow(/is not a state dict \(the pickle holds a bare tensor/);
  });

  it('an unknown GLOBAL is never executed', () => {
    const evil = new Pickler().proto().global('os', 'system').mark().str('echo pwned').tuple().reduce().stop().done();
    expect(() => readTorchBin(withPickle(evil))).toThrow(/is not a state dict \(the pickle references os\.system/);
    const nested = new Pickler().proto().emptyDict().mark().str('model').emptyDict().setitems().stop().done();
    expect(() => readTorchBin(withPickle(nested))).toThrow(/is not a state dict \(entry "model" is not a tensor\)/);
  });

  it('corrupt pickles and zips', () => {
    const good = stateDictPickle(tensors, storages);
    expect(() => readTorchBin(withPickle(good.subarray(0, good.length - 1)))).toThrow(/corrupt pickle at byte \d+: ended without STOP/);
    expect(() => readTorchBin(withPickle(Uint8Array.from([0x80, 2, 0xff])))).toThrow(/unsupported opcode 0xff/);
    const file = binFile();
    fs.writeFileSync(file, Buffer.from('\x80\x02}q\x00.'));
    expect(() => readTorchBin(file)).toThrow(/not a zip archive or truncated .*legacy pre-1\.6 torch\.save/);
    fs.writeFileSync(file, zipBytes([{ name: 'x/y.txt', data: randomBytes(4) }]));
    expect(() => readTorchBin(file)).toThrow(/expected exactly one <archive>\/data\.pkl/);
    fs.writeFileSync(file, zipBytes(torchBinEntries(tensors, storages).map((e) => (e.name.endsWith('data/0') ? { ...e, method: 8 } : e))));
    expect(() => readTorchBin(file)).toThrow(/tensor w: zip entry archive\/data\/0 is compressed \(method 8\)/);
  });

  it('a corrupted data.pkl fails its CRC check', () => {
    const file = binFile();
    const zip = Buffer.from(zipBytes(torchBinEntries(tensors, storages)));
    zip[30 + 'archive/data.pkl'.length + 10] ^= 0xff;
    fs.writeFileSync(file, zip);
    expect(() => readTorchBin(file)).toThrow(/zip entry archive\/data\.pkl fails its CRC check/);
  });

  it('a truncated file: no central directory, or entry data cut short (names the tensor)', () => {
    const file = binFile();
    const zip = Buffer.from(zipBytes(torchBinEntries(tensors, storages)));
    fs.writeFileSync(file, zip.subarray(0, zip.length - 100));
    expect(() => readTorchBin(file)).toThrow(/not a zip archive or truncated/);
    // Storage 1 claims more bytes than the file has left (what a cut-off stored entry looks like).
    const cen = zip.lastIndexOf(Buffer.from('archive/data/1')) - 46;
    zip.writeUInt32LE(1_000_000, cen + 20);
    zip.writeUInt32LE(1_000_000, cen + 24);
    fs.writeFileSync(file, zip);
    expect(() => readTorchBin(file)).toThrow(/tensor b: file is truncated: zip entry archive\/data\/1 needs bytes \[\d+, \d+\), the file has \d+/);
  });
});
