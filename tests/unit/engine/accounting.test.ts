// The engine's acceptance accounting equals an offline recomputation on the same generated text: at every
// step boundary the engine visited, the speculator run on the target's teacher-forced hidden state (one pass
// over prompt + output) proposes the same draft, whose matching prefix is exactly what the step accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { SPECULATOR_DIR, TARGET_DIR } from '../../support/target.ts';
import { workloads } from '../../support/workloads.ts';

let target: TargetModel;
let spec: Speculator;
beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 256, maxNumSeqs: 2 });
  spec = await loadSpeculator({ model: SPECULATOR_DIR, device: 'cpu', quiet: true });
}, 120_000);
afterAll(() => { spec?.close(); target?.close(); });

describe('acceptance accounting', () => {
  it('Arctic: per-step accepted counts equal the offline recomputation at the same positions', async () => {
    const w = workloads();
    const prompts = [w.code.prompts[5].slice(-48), w.code.prompts[6].slice(-40)];
    const NEW = 40;
    const chunks: number[][][] = prompts.map(() => []);
    const d = await attachDrafter(target, parseEngineSpeculativeConfig({ method: 'arctic', model: SPECULATOR_DIR, num_speculative_tokens: 3 }), spec);
    const { outputs, metrics } = await d.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [], onTokens: (i, t) => { chunks[i].push([...t]); } });
    const H = target.hiddenSize, k = spec.numSpeculativeTokens;
    let engineAccepted = 0, offlineAccepted = 0, drafts = 0;
    for (let i = 0; i < prompts.length; i++) {
      const out = outputs[i].tokenIds;
      expect(chunks[i].flat()).toEqual(out);
      // teacher-forced hidden states of prompt + output (row j: the state that predicts token j + 1)
      const seq = target.newSequence('offline');
      const [all] = await target.forward([{ seq, tokens: [...prompts[i], ...out.slice(0, -1)], want: 'all' }]);
      seq.close();
      const L0 = prompts[i].length;
      let m = chunks[i][0].length; // tokens out after the prefill step
      for (const c of chunks[i].slice(1)) {
        const row = L0 + m - 2; // the position whose state produced the last token o_m
        const draft = await spec.propose({ hidden: all.hidden.slice(row * H, (row + 1) * H), tokens: Int32Array.of(out[m - 1]) });
        const room = Math.min(k, NEW - m - 1);
        let a = 0;
        while (a < room && draft[a] === out[m + a]) a++;
        offlineAccepted += a;
        engineAccepted += c.length - 1;
        if (room > 0) drafts++;
        m += c.length;
      }
    }
    expect(offlineAccepted).toBe(engineAccepted);
    expect(metrics.acceptance.numAcceptedTokens).toBe(engineAccepted);
    expect(metrics.acceptance.numDrafts).toBe(drafts);
    expect(engineAccepted).toBeGreaterThan(0);
  }, 120_000);
});
