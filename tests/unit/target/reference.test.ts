// pycode-small on the CPU backend against Hugging Face's fp32 math on the bf16 weights: all 16 cases
// of reference-dev.json, batched together (greedy tokens, prompt-position top-5 logits, final hidden).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../../runtime/engine/generate.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { expectPromptReference, referenceCases, TARGET_DIR } from '../../support/target.ts';

const cases = referenceCases();
let target: TargetModel;

beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 160, maxNumSeqs: 16 });
}, 120_000);
afterAll(() => target?.close());

describe('pycode-small on the CPU backend equals Hugging Face fp32', () => {
  it('prompt-position top-5 logits within 1e-3 relative and final_hidden_last within 1e-4 of its scale, all 16 cases in one pass', async () => {
    await expectPromptReference(target, cases);
  });

  it('64 greedy tokens equal greedy_fp32 for every case (generate, batch 16)', async () => {
    const { outputs, metrics } = await generate(target, cases.map((c) => c.prompt), { maxNewTokens: 64, stopTokenIds: [] });
    outputs.forEach((o, i) => {
      expect(o.tokenIds, `case ${i}`).toEqual(cases[i].greedy_fp32);
      expect(o.finishReason).toBe('length');
    });
    expect(metrics.generatedTokens).toBe(16 * 64);
    expect(target.slots.inUse).toBe(0);
  });
});
