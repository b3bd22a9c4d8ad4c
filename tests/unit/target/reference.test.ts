// pycode-small on the CPU backend against Hugging Face's fp32 math on the bf16 weights: all 16 cases
// of reference-dev.json, batched together (greedy tokens, prompt-position top-5 logits, final hidden).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../../runtime/engine/generate.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { referenceCases, TARGET_DIR, topLogitError } from '../../support/target.ts';

const cases = referenceCases();
let target: TargetModel;

beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 160, maxNumSeqs: 16 });
}, 120_000);
afterAll(() => target?.close());

describe('pycode-small on the CPU backend equals Hugging Face fp32', () => {
  it('prompt-position top-5 logits within 1e-3 relative and final_hidden_last within 1e-4 of its scale, all 16 cases in one pass', async () => {
    const seqs = cases.map((_, i) => target.newSequence(`case ${i}`));
    try {
      const res = await target.forward(cases.map((c, i) => ({ seq: seqs[i], tokens: c.prompt, want: 'all' as const })), { logits: true });
      const V = target.vocabSize, H = target.hiddenSize;
      cases.forEach((c, i) => {
        for (const p of c.prompt_logits_top5) {
          const row = res[i].logits!.subarray(p.pos * V, (p.pos + 1) * V);
          expect(topLogitError(row, p.ids, p.logits), `case ${i} position ${p.pos}`).toBeLessThan(1e-3);
        }
        const last = res[i].hidden.subarray((c.prompt.length - 1) * H, c.prompt.length * H);
        const scale = Math.max(...c.final_hidden_last.map(Math.abs));
        const err = Math.max(...c.final_hidden_last.map((v, j) => Math.abs(v - last[j])));
        expect(err / scale, `case ${i} final hidden`).toBeLessThan(1e-4);
      });
    } finally {
      for (const s of seqs) s.close();
    }
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
