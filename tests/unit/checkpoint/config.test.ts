import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../../runtime/checkpoint/errors.ts';
import { parseSpeculatorConfig } from '../../../runtime/checkpoint/config.ts';
import { fixtureConfig } from './helpers.ts';

const lstm = fixtureConfig('lstm-tiny');
const mlp = fixtureConfig('mlp-tied');
const parse = (json: unknown) => parseSpeculatorConfig(json, 'config.json');
const errorOf = (json: unknown): CheckpointError => {
  try {
    parse(json);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
};

describe('parseSpeculatorConfig: fixtures', () => {
  it('normalizes the LSTM configs', () => {
    expect(parse(lstm)).toEqual({
      kind: 'lstm', architecture: 'ArcticLSTMSpeculatorPreTrainedModel', method: 'sum_lstm',
      hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3,
      tieWeights: true, scaleInput: true, tieLstmEmbs: true, torchDtype: 'bfloat16',
    });
    expect(parse(fixtureConfig('lstm-wide-input'))).toMatchObject({ hiddenSize: 96, width: 64, vocabSize: 1000 });
  });

  it('normalizes the MLP configs', () => {
    expect(parse(mlp)).toEqual({
      kind: 'mlp', architecture: 'ArcticMLPSpeculatorPreTrainedModel', method: 'mlp',
      hiddenSize: 64, width: 48, vocabSize: 512, nPredict: 3,
      tieWeights: true, scaleInput: true, tieLstmEmbs: false, torchDtype: 'bfloat16',
    });
    expect(parse(fixtureConfig('mlp-untied'))).toMatchObject({ nPredict: 4, tieWeights: false, scaleInput: false, width: 32 });
  });
});

describe('parseSpeculatorConfig: accepted variants', () => {
  it('accepts architectures as a plain string and every known name', () => {
    expect(parse({ ...mlp, architectures: 'MLPSpeculatorPreTrainedModel' }).kind).toBe('mlp');
    expect(parse({ ...lstm, architectures: ['MLPVariantSpeculatorPreTrainedModel'] }).kind).toBe('lstm');
  });

  it('uses emb_dim as the MLP width when inner_dim is 0 or absent', () => {
    expect(parse({ ...mlp, inner_dim: 0 }).width).toBe(64);
    const { inner_dim: _, ...noInner } = mlp;
    expect(parse(noInner).width).toBe(64);
  });

  it('accepts the MLP writer\'s top_k typo and omitted optional fields', () => {
    const { top_k_tokens_per_head: _, torch_dtype: __, ...rest } = mlp;
    const c = parse({ ...rest, top_k_tokesns_per_head: [5, 4, 3] });
    expect(c.torchDtype).toBeUndefined();
  });

  it('defaults scale_input to false and accepts integer LSTM dims', () => {
    const { scale_input: _, ...rest } = lstm;
    expect(parse({ ...rest, inner_dim: 64, emb_dim: 64, proj_dim: 64 }).scaleInput).toBe(false);
  });
});

describe('parseSpeculatorConfig: errors name the field and what was expected', () => {
  it('unknown method', () => {
    const e = errorOf({ ...lstm, method: 'foo' });
    expect(e.message).toBe('config.json: field "method": unknown method "foo" (expected "sum_lstm")');
    expect(e.file).toBe('config.json');
    expect(e.field).toBe('method');
  });

  it('sum_rnn, explicit or by default, is not supported', () => {
    expect(errorOf({ ...lstm, method: 'sum_rnn' }).message).toMatch(/field "method": method "sum_rnn" is not supported/);
    const { method: _, ...noMethod } = lstm;
    expect(errorOf(noMethod).message).toMatch(/"sum_rnn" \(the default when "method" is absent\) is not supported/);
  });

  it('multi-layer dims are not supported', () => {
    const e = errorOf({ ...lstm, inner_dim: '64.64' });
    expect(e.field).toBe('inner_dim');
    expect(e.message).toMatch(/multi-layer dims "64\.64" are not supported/);
    expect(errorOf({ ...lstm, proj_dim: 'abc' }).message).toMatch(/field "proj_dim": expected a positive integer as a string/);
  });

  it('unknown or malformed architectures', () => {
    expect(errorOf({ ...lstm, architectures: ['LlamaForCausalLM'] }).message)
      .toMatch(/field "architectures": unknown architecture "LlamaForCausalLM" \(expected one of "ArcticLSTMSpeculatorPreTrainedModel"/);
    expect(errorOf({ ...lstm, architectures: ['ArcticLSTMSpeculatorPreTrainedModel', 'X'] }).message).toMatch(/exactly one architecture/);
    const { architectures: _, ...noArch } = lstm;
    expect(errorOf(noArch).message).toMatch(/field "architectures": required field is missing/);
  });

  it('sum_lstm needs tie_weights and equal dims', () => {
    expect(errorOf({ ...lstm, tie_weights: false }).message).toMatch(/field "tie_weights": sum_lstm requires tie_weights true/);
    expect(errorOf({ ...lstm, emb_dim: '32' }).message).toMatch(/field "emb_dim": expected 64 .*found 32/);
  });

  it('wrong types and missing fields', () => {
    expect(errorOf({ ...lstm, n_predict: 'three' }).message).toBe('config.json: field "n_predict": expected number, found "three"');
    expect(errorOf({ ...lstm, vocab_size: 0 }).field).toBe('vocab_size');
    expect(errorOf({ ...mlp, emb_dim: '64' }).message).toMatch(/field "emb_dim": expected number, found "64"/);
    const { input_hidden_dim: _, ...noH } = lstm;
    expect(errorOf(noH).message).toMatch(/field "input_hidden_dim": required field is missing/);
    expect(errorOf({ ...lstm, top_k_tokens_per_head: [1, 'a'] }).field).toBe('top_k_tokens_per_head[1]');
    expect(errorOf({ ...mlp, tie_weights: true, n_predict: 1 }).message).toMatch(/tie_weights true requires n_predict > 1/);
  });

  it('a config that is not an object', () => {
    expect(errorOf([1, 2]).message).toMatch(/^config\.json: expected a JSON object/);
  });
});
