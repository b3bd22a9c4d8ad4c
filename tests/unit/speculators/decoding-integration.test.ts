// The real compiled speculator as the draft model of the decoding loop: greedy output is unchanged.
import { describe, expect, it } from 'vitest';
import { HybridProposer, loadSpeculator, ModelProposer, SpeculativeDecoder } from '../../../index.ts';
import { fixtureDir } from '../../support/fixtures.ts';
import { TinyRnn } from '../decoding/support/tiny-models.ts';

describe('Arctic speculator inside SpeculativeDecoder', () => {
  it.each(['lstm-tiny', 'mlp-tied'] as const)('%s: greedy output identical with and without speculation', async (name) => {
    const spec = await loadSpeculator({ model: fixtureDir(name), device: 'cpu' });
    const target = new TinyRnn(spec.vocabSize, spec.hiddenSize, 7);
    const prompts = [Int32Array.from([5, 9, 5, 9, 5, 9]), Int32Array.from([400, 3, 77])];
    const plain = await new SpeculativeDecoder({ target }).generate(prompts, { maxNewTokens: 24 });
    for (const proposer of [new ModelProposer(spec), new HybridProposer({ model: spec })]) {
      const d = new SpeculativeDecoder({ target, proposer });
      const got = await d.generate(prompts, { maxNewTokens: 24 });
      expect(got.map((r) => Array.from(r.tokens))).toEqual(plain.map((r) => Array.from(r.tokens)));
      expect(d.metrics.snapshot().numDrafts).toBeGreaterThan(0);
    }
    spec.close();
  });
});
