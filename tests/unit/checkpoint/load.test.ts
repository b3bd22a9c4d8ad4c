import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { CheckpointError, expectedParams, inspectCheckpoint, loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { progressReporter } from '../../../runtime/checkpoint/progress.ts';
import { readSafetensors } from '../../../runtime/checkpoint/safetensors.ts';
import { safetensorsEntry, writeSafetensors } from '../../../runtime/checkpoint/safetensors-write.ts';
import type { BinStorage, BinTensor } from './helpers.ts';
import { FIXTURE_NAMES, Pickler, binFromTensors, checkpointDir, fixture, fixtureConfig, randomBytes, sameBytes, tempDir, writeTorchBin } from './helpers.ts';

const lstmWeights = (): Map<string, HostTensor> => readSafetensors(path.join(fixture('lstm-tiny'), 'model.safetensors'));
const writeWeights = (dir: string, weights: ReadonlyMap<string, HostTensor>): void => {
  writeSafetensors(path.join(dir, 'model.safetensors'), [...weights].map(([n, t]) => safetensorsEntry(n, t)));
};
/** A temp LSTM checkpoint with the lstm-tiny weights after `edit`, and the config after `patch`. */
function lstmDir(patch: Record<string, unknown> = {}, edit: (w: Map<string, HostTensor>) => void = () => {}): string {
  const dir = checkpointDir({ ...fixtureConfig('lstm-tiny'), ...patch });
  const w = lstmWeights();
  edit(w);
  writeWeights(dir, w);
  return dir;
}
const loadError = (dir: string): CheckpointError => {
  try {
    loadCheckpoint(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected loadCheckpoint to fail');
};

describe('loadCheckpoint: fixtures', () => {
  it.each(FIXTURE_NAMES)('%s loads to exactly the expected parameters', (name) => {
    const c = loadCheckpoint(fixture(name));
    expect([...c.weights].map(([n, t]) => ({ name: n, shape: t.shape }))).toEqual(expectedParams(c.config));
    for (const t of c.weights.values()) expect(t.dtype).toBe('bf16');
    expect(c.files[0]).toBe(path.join(fixture(name), 'config.json'));
    expect(c.bytes).toBe(fs.statSync(c.files[1]).size);
    expect(c.tied).toEqual([]);
  });

  it('lstm-tiny and lstm-tiny-bin load to bit-identical weights', () => {
    const a = loadCheckpoint(fixture('lstm-tiny'));
    const b = loadCheckpoint(fixture('lstm-tiny-bin'));
    expect(b.config).toEqual(a.config);
    expect([...b.weights.keys()]).toEqual([...a.weights.keys()]);
    for (const [n, t] of a.weights) expect(sameBytes(b.weights.get(n)!, t), n).toBe(true);
  });

  it('a pytorch_model.bin with tied storages loads, reports the ties and reads shared bytes once', () => {
    const w = lstmWeights();
    const { tensors, storages } = binFromTensors(w);
    const key = (n: string) => tensors.find((t) => t.name === n)!.storage;
    const ties: BinTensor[] = [
      ...['input_emb', 'cell_emb', 'output_emb'].map((e) => ({ name: `speculator.${e}.0.weight`, storage: key('forget_emb.0.weight'), shape: [512, 64] })),
      ...[1, 2].map((i) => ({ name: `speculator.head.${i}.weight`, storage: key('head.0.weight'), shape: [512, 64] })),
    ];
    const dir = checkpointDir(fixtureConfig('lstm-tiny'));
    writeTorchBin(path.join(dir, 'pytorch_model.bin'), [...tensors.map((t) => ({ ...t, name: `speculator.${t.name}` })), ...ties], storages, { zip64: true });
    let read = 0;
    const c = loadCheckpoint(dir, { onProgress: (p) => { read = p.bytesRead; } });
    expect(c.tied).toEqual([
      ['speculator.forget_emb.0.weight', 'speculator.input_emb.0.weight', 'speculator.cell_emb.0.weight', 'speculator.output_emb.0.weight'],
      ['speculator.head.0.weight', 'speculator.head.1.weight', 'speculator.head.2.weight'],
    ]);
    const ref = loadCheckpoint(fixture('lstm-tiny'));
    for (const [n, t] of ref.weights) expect(sameBytes(c.weights.get(n)!, t), n).toBe(true);
    expect(read).toBe([...ref.weights.values()].reduce((a, t) => a + t.data.byteLength, 0));
  });

  it('a sharded safetensors checkpoint loads like the single file', () => {
    const dir = checkpointDir(fixtureConfig('lstm-tiny'));
    const entries = [...lstmWeights()].map(([n, t]) => safetensorsEntry(n, t));
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    writeSafetensors(path.join(dir, shards[0]), entries.slice(0, 5));
    writeSafetensors(path.join(dir, shards[1]), entries.slice(5));
    const weightMap = Object.fromEntries(entries.map((e, i) => [e.name, shards[i < 5 ? 0 : 1]]));
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const c = loadCheckpoint(dir);
    expect(c.files.map((f) => path.basename(f))).toEqual(['config.json', 'model.safetensors.index.json', ...shards]);
    const ref = loadCheckpoint(fixture('lstm-tiny'));
    for (const [n, t] of ref.weights) expect(sameBytes(c.weights.get(n)!, t), n).toBe(true);
  });
});

describe('loadCheckpoint: clear errors for bad checkpoints', () => {
  it('folder, config and weight files', () => {
    expect(loadError('/nonexistent/ckpt').message).toMatch(/checkpoint folder does not exist/);
    expect(loadError(path.join(fixture('lstm-tiny'), 'config.json')).message).toMatch(/expected a checkpoint folder/);
    expect(loadError(tempDir()).message).toMatch(/config\.json: missing: a speculator checkpoint needs a config\.json/);
    const noWeights = checkpointDir(fixtureConfig('lstm-tiny'));
    expect(loadError(noWeights).message).toMatch(/no weights found: expected model\.safetensors, model\.safetensors\.index\.json or pytorch_model\.bin/);
    const badJson = tempDir();
    fs.writeFileSync(path.join(badJson, 'config.json'), '{"n_predict": 3,');
    expect(loadError(badJson).message).toMatch(/config\.json: not valid JSON/);
  });

  it('config errors: unknown method, unknown architecture, multi-layer dims', () => {
    expect(loadError(lstmDir({ method: 'foo' })).message).toMatch(/config\.json: field "method": unknown method "foo" \(expected "sum_lstm"\)$/);
    expect(loadError(lstmDir({ architectures: ['GPT2LMHeadModel'] })).message).toMatch(/config\.json: field "architectures": unknown architecture "GPT2LMHeadModel"/);
    expect(loadError(lstmDir({ emb_dim: '64.64' })).message).toMatch(/config\.json: field "emb_dim": multi-layer dims "64\.64" are not supported/);
  });

  it('weight errors: missing tensor, wrong shape, wrong dtype, config/weights disagreeing', () => {
    const missing = loadError(lstmDir({}, (w) => w.delete('state_ln.0.weight')));
    expect(missing.message).toMatch(/model\.safetensors: tensor state_ln\.0\.weight: missing \(expected \[64\]\)$/);
    expect(missing.tensor).toBe('state_ln.0.weight');
    const shape = loadError(lstmDir({}, (w) => w.set('head.0.weight', { dtype: 'bf16', shape: [512, 48], data: new Uint16Array(512 * 48) })));
    expect(shape.message).toMatch(/tensor head\.0\.weight: expected \[512, 64\], found \[512, 48\]/);
    const dtype = loadError(lstmDir({}, (w) => w.set('cell_ln.0.bias', { dtype: 'i32', shape: [64], data: new Int32Array(64) })));
    expect(dtype.message).toMatch(/tensor cell_ln\.0\.bias: expected a float dtype \(bf16, f16 or f32\), found I32/);
    expect(loadError(lstmDir({ vocab_size: 500 })).message).toMatch(/expected \[500, 64\], found \[512, 64\] \(config vocab_size is 500; config and weights disagree\)/);
    expect(loadError(lstmDir({ n_predict: 2 }, (w) => w.set('head.2.weight', w.get('head.0.weight')!))).message).toMatch(/unexpected tensors .*head\.2\.weight/);
  });

  it('file errors surface through loadCheckpoint: truncated safetensors, pickle that is not a state dict', () => {
    const dir = lstmDir();
    const file = path.join(dir, 'model.safetensors');
    fs.truncateSync(file, fs.statSync(file).size - 100);
    expect(loadError(dir).message).toMatch(/model\.safetensors: tensor state_ln\.0\.weight: file is truncated/);
    const bin = checkpointDir(fixtureConfig('lstm-tiny'));
    const storages: BinStorage[] = [{ key: '0', type: 'BFloat16Storage', data: randomBytes(8) }];
    writeTorchBin(path.join(bin, 'pytorch_model.bin'), [], storages, { pickle: new Pickler().proto().emptyList().stop().done() });
    expect(loadError(bin).message).toMatch(/pytorch_model\.bin: is not a state dict/);
  });
});

describe('progress', () => {
  const tty = process.stderr.isTTY;
  afterEach(() => {
    process.stderr.isTTY = tty;
    vi.restoreAllMocks();
  });

  it('draws a stderr line for big loads on a terminal only, and always reports to onProgress', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const seen: number[] = [];
    process.stderr.isTTY = false;
    const quiet = progressReporter('model.safetensors', 200e6, (p) => seen.push(p.bytesRead));
    quiet.onBytes(100e6); quiet.onBytes(100e6); quiet.finish();
    expect(write).not.toHaveBeenCalled();
    expect(seen).toEqual([100e6, 200e6]);
    process.stderr.isTTY = true;
    const small = progressReporter('model.safetensors', 50e6);
    small.onBytes(50e6); small.finish();
    expect(write).not.toHaveBeenCalled();
    const big = progressReporter('/x/model.safetensors', 200e6);
    big.onBytes(200e6); big.finish();
    expect(write.mock.calls.map((c) => String(c[0])).join('')).toMatch(/loading model\.safetensors: 0\.20 \/ 0\.20 GB \(100%\)\n$/);
  });
});

describe('inspectCheckpoint', () => {
  it('describes every stored tensor, the ties, the aliases and the canonical parameters', () => {
    const d = inspectCheckpoint(fixture('lstm-tiny-bin'));
    expect(d.format).toBe('pytorch-bin');
    expect(d.config?.kind).toBe('lstm');
    expect(d.tensors).toHaveLength(14);
    expect(d.tensors[0]).toMatchObject({ name: 'forget_emb.0.weight', shape: [512, 64], dtype: 'bf16', sourceDtype: 'BFloat16Storage', bytes: 65536 });
    expect(d.params.find((p) => p.name === 'projs.0.weight')!.from).toEqual(['forget_proj.0.weight', 'input_proj.0.weight', 'output_proj.0.weight', 'cell_proj.0.weight']);
    expect(d.problems).toEqual([]);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('reports aliases, and problems instead of throwing', () => {
    const dir = lstmDir({}, (w) => w.set('head.1.weight', w.get('head.0.weight')!));
    expect(inspectCheckpoint(dir).aliases).toEqual([{ name: 'head.1.weight', of: 'head.0.weight', why: 'tie_weights' }]);
    const bad = lstmDir({ method: 'sum_rnn' }, (w) => w.delete('head.0.weight'));
    const d = inspectCheckpoint(bad);
    expect(d.config).toBeNull();
    expect(d.tensors).toHaveLength(13);
    expect(d.problems).toEqual([expect.stringMatching(/field "method": method "sum_rnn" is not supported/)]);
    const d2 = inspectCheckpoint(lstmDir({}, (w) => w.delete('head.0.weight')));
    expect(d2.problems).toEqual([expect.stringMatching(/tensor head\.0\.weight: missing/)]);
  });
});
