// Greedy output is token-identical across every drafter and equal to no speculation, on a mixed batch of
// code and repeat prompts, alone and batched; the acceptance accounting is consistent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../runtime/engine/load-engine.ts';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { TARGET_DIR } from '../../support/target.ts';
import { DRAFTERS, workloads } from '../../support/workloads.ts';

const w = workloads();
const prompts = [w.code.prompts[0], w.repeat.prompts[0], w.code.prompts[1], w.repeat.prompts[1]];
const NEW = 32;
let target: TargetModel;
let plain: number[][];

beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 512, maxNumSeqs: 4 });
  const none = await attachDrafter(target, null);
  plain = (await none.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [] })).outputs.map((o) => o.tokenIds);
}, 120_000);
afterAll(() => target?.close());

describe('every drafter reproduces plain greedy decoding', () => {
  for (const d of DRAFTERS.slice(1)) {
    it(`${d.name}: batch of 4 (code and repeat mixed) and one request alone`, async () => {
      const drafter = await attachDrafter(target, parseEngineSpeculativeConfig(d.config));
      try {
        const { outputs, metrics } = await drafter.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [] });
        outputs.forEach((o, i) => expect(o.tokenIds, `prompt ${i}`).toEqual(plain[i]));
        const alone = await drafter.engine.generate([prompts[1]], { maxNewTokens: NEW, stopTokenIds: [] });
        expect(alone.outputs[0].tokenIds).toEqual(plain[1]);
        // accounting: every step adds accepted + 1 tokens per request that verified
        const a = metrics.acceptance;
        expect(a.numDrafts).toBeGreaterThan(0);
        expect(a.numAcceptedTokens).toBe(outputs.reduce((s, o) => s + o.acceptance.numAcceptedTokens, 0));
        expect(a.perPositionAcceptanceRate[0]).toBeGreaterThan(0);
        expect(metrics.steps).toBeLessThan(4 * NEW);
        expect(target.slots.inUse).toBe(0);
      } finally { drafter.dispose(); }
    });
  }
});

describe('speculative configs', () => {
  it('unknown keys are rejected with their path, before any work', () => {
    expect(() => parseEngineSpeculativeConfig({ method: 'arctic', model: '.', num_speculative_tokens: 3, suffix_min_tokn_prob: 0.2 }))
      .toThrow('speculative config: "suffix_min_tokn_prob": unknown key');
    expect(() => parseEngineSpeculativeConfig('{"method": "eagle"}')).toThrow(/"method": Invalid option/);
    expect(() => parseEngineSpeculativeConfig({ method: 'arctic' })).toThrow('"model": method "arctic" needs "model"');
    expect(() => parseEngineSpeculativeConfig({ method: 'arctic', model: '/no/such/speculator' })).toThrow('speculator checkpoint folder /no/such/speculator does not exist');
    expect(() => parseEngineSpeculativeConfig({ method: 'ngram' })).toThrow('method "ngram" needs num_speculative_tokens');
    expect(() => parseEngineSpeculativeConfig('{not json')).toThrow(/not valid JSON/);
  });
  it('a speculator that does not fit the target is refused before any work', async () => {
    const spec = `${TARGET_DIR}/../../speculators/lstm-tiny`;
    await expect(attachDrafter(target, parseEngineSpeculativeConfig({ method: 'arctic', model: spec })))
      .rejects.toThrow(/does not fit the target: hidden size \d+, the target's is 256/);
    expect(target.slots.inUse).toBe(0);
  });
  it('disable_by_batch_size limits drafting to the first N requests; hard_disable turns it off', async () => {
    const d = await attachDrafter(target, parseEngineSpeculativeConfig({ method: 'suffix', disable_by_batch_size: 1 }));
    const capped = await d.engine.generate(prompts.slice(0, 3), { maxNewTokens: 8, stopTokenIds: [] });
    capped.outputs.forEach((o, i) => expect(o.tokenIds).toEqual(plain[i].slice(0, 8)));
    // requests 1 and 2 never drafted while all three ran
    expect(capped.outputs[1].acceptance.numDrafts + capped.outputs[2].acceptance.numDrafts).toBeLessThan(capped.outputs[0].acceptance.numDrafts + 8);
    const h = await attachDrafter(target, parseEngineSpeculativeConfig({ method: 'suffix', hard_disable_by_batch_size: 1 }));
    const off = await h.engine.generate(prompts.slice(0, 2), { maxNewTokens: 8, stopTokenIds: [] });
    expect(off.metrics.acceptance.numDrafts).toBe(0);
    expect(off.outputs.map((o) => o.tokenIds)).toEqual(plain.slice(0, 2).map((p) => p.slice(0, 8)));
  });
});
