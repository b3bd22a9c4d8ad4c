import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { expectedParams } from '../../../runtime/checkpoint/arctic-layout.ts';
import { mapArcticWeights } from '../../../runtime/checkpoint/arctic-weights.ts';
import type { SpeculatorConfig } from '../../../runtime/checkpoint/config.ts';
import { parseSpeculatorConfig } from '../../../runtime/checkpoint/config.ts';
import { bytesOf } from '../../../runtime/checkpoint/raw-tensor.ts';
import { readSafetensors } from '../../../runtime/checkpoint/safetensors.ts';
import { fixture, fixtureConfig, sameBytes } from './helpers.ts';

const load = (name: string): { config: SpeculatorConfig; raw: Map<string, HostTensor> } => ({
  config: parseSpeculatorConfig(fixtureConfig(name), 'config.json'),
  raw: readSafetensors(path.join(fixture(name), 'model.safetensors')),
});
const map = (config: SpeculatorConfig, raw: ReadonlyMap<string, HostTensor>) => mapArcticWeights(config, raw, 'model.safetensors');
const copy = (t: HostTensor): HostTensor => hostTensor(t.dtype, t.shape, t.data.slice());
const rows = (t: HostTensor, from: number, to: number): Uint8Array => {
  const rowBytes = bytesOf(t).byteLength / t.shape[0];
  return bytesOf(t).subarray(from * rowBytes, to * rowBytes);
};
const withoutKey = <V>(m: Map<string, V>, k: string): Map<string, V> => new Map([...m].filter(([n]) => n !== k));

describe('mapArcticWeights: LSTM', () => {
  const { config, raw } = load('lstm-tiny');
  const D = config.width;

  it('returns exactly the expected canonical parameters', () => {
    const w = map(config, raw);
    expect([...w].map(([n, t]) => ({ name: n, shape: t.shape }))).toEqual(expectedParams(config));
    expect(expectedParams(config).map((p) => p.name)).toEqual([
      'forget_emb.0.weight', 'projs.0.weight', 'projs.1.weight',
      'cell_ln.0.weight', 'cell_ln.0.bias', 'state_ln.0.weight', 'state_ln.0.bias', 'head.0.weight',
    ]);
  });

  it('fuses the gate projections in the order forget, input, output, cell', () => {
    const w = map(config, raw);
    for (const stage of [0, 1]) {
      const fused = w.get(`projs.${stage}.weight`)!;
      expect(fused.shape).toEqual([4 * D, stage === 0 ? config.hiddenSize : D]);
      ['forget', 'input', 'output', 'cell'].forEach((g, i) => {
        expect(Buffer.compare(rows(fused, i * D, (i + 1) * D), bytesOf(raw.get(`${g}_proj.${stage}.weight`)!)), `${g} ${stage}`).toBe(0);
      });
    }
  });

  it('strips the speculator. prefix', () => {
    const prefixed = new Map([...raw].map(([n, t]) => [`speculator.${n}`, t]));
    const w = map(config, prefixed);
    for (const [n, t] of map(config, raw)) expect(sameBytes(w.get(n)!, t), n).toBe(true);
    expect(() => map(config, new Map([...raw, ['speculator.head.0.weight', raw.get('head.0.weight')!]])))
      .toThrow(/tensor head\.0\.weight: stored twice, as head\.0\.weight and speculator\.head\.0\.weight/);
  });

  it('accepts tied aliases (embeddings, heads) when equal, rejects them when not', () => {
    const emb = raw.get('forget_emb.0.weight')!;
    const head = raw.get('head.0.weight')!;
    const aliased = new Map([...raw, ['input_emb.0.weight', emb], ['cell_emb.0.weight', copy(emb)], ['output_emb.0.weight', emb],
      ['head.1.weight', copy(head)], ['head.2.weight', head]]);
    expect([...map(config, aliased).keys()]).toEqual(expectedParams(config).map((p) => p.name));
    const differs = copy(head);
    (differs.data as Uint16Array)[5] ^= 1;
    expect(() => map(config, new Map([...raw, ['head.2.weight', differs]])))
      .toThrow(/tensor head\.2\.weight: should be tied to head\.0\.weight \(tie_weights is true in the config\) but its values differ/);
    expect(() => map(config, new Map([...raw, ['head.3.weight', head]]))).toThrow(/unexpected tensors .*: head\.3\.weight/);
  });

  it('accepts inference-format fused projections', () => {
    const w = map(config, raw);
    const fusedOnly = new Map([...raw].filter(([n]) => !n.includes('_proj.')));
    fusedOnly.set('projs.0.weight', w.get('projs.0.weight')!);
    fusedOnly.set('projs.1.weight', w.get('projs.1.weight')!);
    const w2 = map(config, fusedOnly);
    for (const [n, t] of w) expect(sameBytes(w2.get(n)!, t), n).toBe(true);
    expect(() => map(config, new Map([...raw, ['projs.0.weight', w.get('projs.0.weight')!]])))
      .toThrow(/unexpected tensors for this sum_lstm speculator .*: cell_proj\.0\.weight, forget_proj\.0\.weight, input_proj\.0\.weight, output_proj\.0\.weight$/);
  });

  it('tie_lstm_embs false is not supported', () => {
    expect(() => map({ ...config, tieLstmEmbs: false }, raw)).toThrow(/field "tie_lstm_embs": false is not supported/);
  });

  it('missing tensors name the tensor and its expected shape', () => {
    expect(() => map(config, withoutKey(raw, 'head.0.weight'))).toThrow(/^model\.safetensors: tensor head\.0\.weight: missing \(expected \[512, 64\]\)$/);
    expect(() => map(config, withoutKey(raw, 'cell_proj.1.weight')))
      .toThrow(/tensor cell_proj\.1\.weight: missing \(expected \[64, 64\], or the fused projs\.1\.weight \[256, 64\]\)/);
  });

  it('wrong shapes, dtypes and mixed part dtypes', () => {
    const narrow = hostTensor('bf16', [512, 48]);
    const e = () => map(config, new Map([...raw, ['head.0.weight', narrow]]));
    expect(e).toThrow('model.safetensors: tensor head.0.weight: expected [512, 64], found [512, 48] (config proj_dim is 64; config and weights disagree)');
    expect(() => map(config, new Map([...raw, ['state_ln.0.bias', hostTensor('i32', [64])]])))
      .toThrow(/tensor state_ln\.0\.bias: expected a float dtype \(bf16, f16 or f32\), found i32/);
    expect(() => map(config, new Map([...raw, ['input_proj.0.weight', hostTensor('f32', [64, 64])]])))
      .toThrow(/tensor input_proj\.0\.weight: dtype f32 differs from forget_proj\.0\.weight \(bf16\)/);
  });

  it('config and weights disagreeing on sizes', () => {
    expect(() => map({ ...config, vocabSize: 1000 }, raw))
      .toThrow(/tensor forget_emb\.0\.weight: expected \[1000, 64\], found \[512, 64\] \(config vocab_size is 1000; config and weights disagree\)/);
    expect(() => map({ ...config, hiddenSize: 96 }, raw)).toThrow(/tensor forget_proj\.0\.weight: expected \[64, 96\], found \[64, 64\] \(config input_hidden_dim is 96/);
  });

  it('extra tensors are listed', () => {
    expect(() => map(config, new Map([...raw, ['lm_head.weight', raw.get('head.0.weight')!], ['foo', hostTensor('bf16', [1])]])))
      .toThrow(/unexpected tensors for this sum_lstm speculator \(n_predict 3, tie_weights true\): lm_head\.weight, foo/);
  });
});

describe('mapArcticWeights: MLP', () => {
  it('untied: one emb/proj/ln/head per step, names as stored', () => {
    const { config, raw } = load('mlp-untied');
    const w = map(config, raw);
    expect([...w].map(([n, t]) => ({ name: n, shape: t.shape }))).toEqual(expectedParams(config));
    expect(w.size).toBe(raw.size);
    for (const [n, t] of raw) expect(w.get(n)).toBe(t); // nothing copied
  });

  it('tied: emb.0, proj.0, proj.1, ln.0, head.0; higher-index copies are aliases', () => {
    const { config, raw } = load('mlp-tied');
    expect(expectedParams(config)).toEqual([
      { name: 'emb.0.weight', shape: [512, 48] }, { name: 'proj.0.weight', shape: [48, 64] }, { name: 'proj.1.weight', shape: [48, 48] },
      { name: 'ln.0.weight', shape: [48] }, { name: 'ln.0.bias', shape: [48] }, { name: 'head.0.weight', shape: [512, 48] },
    ]);
    const aliased = new Map(raw);
    for (const i of [1, 2]) for (const p of ['emb', 'ln', 'head']) aliased.set(`${p}.${i}.weight`, raw.get(`${p}.0.weight`)!);
    aliased.set('ln.2.bias', copy(raw.get('ln.0.bias')!));
    aliased.set('proj.2.weight', raw.get('proj.1.weight')!);
    expect(map(config, aliased).size).toBe(6);
    expect(() => map(config, withoutKey(raw, 'proj.1.weight'))).toThrow(/tensor proj\.1\.weight: missing \(expected \[48, 48\]\)/);
  });

  it('a tied config over untied weights is caught', () => {
    const { config, raw } = load('mlp-untied');
    expect(() => map({ ...config, tieWeights: true }, raw)).toThrow(/tensor emb\.1\.weight: should be tied to emb\.0\.weight .* but its values differ/);
  });
});

describe('mapArcticWeights: aliases larger than one comparison chunk (16 MiB)', () => {
  it('finds a difference in the last element', () => {
    const config = parseSpeculatorConfig({ ...fixtureConfig('mlp-tied'), vocab_size: 66_000, emb_dim: 8, inner_dim: 128 }, 'config.json');
    const raw = new Map(expectedParams(config).map(({ name, shape }) => [name, hostTensor('bf16', shape)]));
    const emb = raw.get('emb.0.weight')!;
    (emb.data as Uint16Array).fill(0x3f80);
    expect(emb.data.byteLength).toBeGreaterThan(16 << 20);
    const same = copy(emb);
    expect(map(config, new Map([...raw, ['emb.1.weight', same]])).size).toBe(6);
    (same.data as Uint16Array)[same.data.length - 1] = 0;
    expect(() => map(config, new Map([...raw, ['emb.1.weight', same]]))).toThrow(/tensor emb\.1\.weight: should be tied to emb\.0\.weight/);
  });
});
