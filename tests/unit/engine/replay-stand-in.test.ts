// The replay device stand-in of bench/host-profile.ts (bench/replay-stand-in.ts): replaying the recorded
// greedy continuations gives every drafter exactly the interpreter's greedy tokens (the rows the engine
// reads always have the true prefix as context), alone and batched, with one sync per step (two when the
// Arctic stand-in drafts); prompts prefilled over several passes (more rows than maxBatchTokens) are
// recognized; a prompt that was not recorded is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayDraftModel, replayTarget } from '../../../bench/replay-stand-in.ts';
import { replayedCpuTarget, type ReplayedTarget } from '../../support/replay.ts';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { TARGET_DIR } from '../../support/target.ts';
import { DRAFTERS, workloads } from '../../support/workloads.ts';

const w = workloads();
const prompts = [w.code.prompts[2].slice(-32), w.repeat.prompts[2].slice(-40), w.code.prompts[3].slice(-24)];
const NEW = 40;
let target: TargetModel;
let greedy: number[][];
let replayed: ReplayedTarget | undefined;
beforeAll(async () => {
  replayed = await replayedCpuTarget(prompts, NEW);
  ({ target, greedy } = replayed);
}, 120_000);
afterAll(() => replayed?.close());

describe('replay stand-in', () => {
  for (const d of DRAFTERS) {
    it(`${d.name}: the interpreter's greedy tokens, batched and alone`, async () => {
      const model = replayDraftModel(target, 3, 0.5) as unknown as Speculator;
      const drafter = await attachDrafter(target, d.config === undefined ? null : parseEngineSpeculativeConfig(d.config), model);
      try {
        const all = await drafter.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [] });
        expect(all.outputs.map((o) => o.tokenIds)).toEqual(greedy);
        const one = await drafter.engine.generate([prompts[1]], { maxNewTokens: NEW, stopTokenIds: [] });
        expect(one.outputs[0].tokenIds).toEqual(greedy[1]);
        if (d.name === 'arctic') {
          expect(one.metrics.syncsPerStep).toBe(2);
          // the stand-in's drafts are the continuation with misses: some accepted, some not
          expect(one.metrics.acceptance.meanAcceptanceLength).toBeGreaterThan(1.2);
          expect(one.metrics.acceptance.meanAcceptanceLength).toBeLessThan(3.5);
        } else if (d.name !== 'arctic+suffix') expect(one.metrics.syncsPerStep).toBe(1);
        if (d.name !== 'none') expect(all.metrics.acceptance.numDrafts).toBeGreaterThan(0);
      } finally {
        drafter.dispose();
      }
    }, 60_000);
  }

  it('refuses a prompt it did not record', async () => {
    const none = await attachDrafter(target, null);
    await expect(none.engine.generate([w.code.prompts[4].slice(-20)], { maxNewTokens: 4, stopTokenIds: [] })).rejects.toThrow('a prompt of 20 tokens that was not recorded');
    expect(target.slots.inUse).toBe(0);
  });

  it('recognizes prompts split over passes by maxBatchTokens', async () => {
    const small = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 128, maxNumSeqs: 3, maxBatchTokens: 16 });
    const undo = replayTarget(small, prompts, greedy);
    try {
      const none = await attachDrafter(small, null);
      const all = await none.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [] });
      expect(all.outputs.map((o) => o.tokenIds)).toEqual(greedy);
      none.dispose();
    } finally { undo(); small.close(); }
  }, 60_000);
});

