// The suffix cache's deferred updates under the engine (docs/suffix-overlap.md): whatever the mode, greedy
// outputs are the target's; the updates of one step are applied while the next step's target pass runs
// (inside the backend's run, through TargetRunOptions.whileRunning), and nothing waits once the engine is idle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayDraftModel } from '../../../bench/replay-stand-in.ts';
import { replayedCpuTarget, type ReplayedTarget } from '../../support/replay.ts';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import { HybridProposer } from '../../../runtime/decoding/hybrid-proposer.ts';
import { SuffixProposer } from '../../../runtime/decoding/suffix-proposer.ts';
import { DEFER_MODES } from '../../../runtime/decoding/suffix-cache.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { targetBackend } from '../../../runtime/target/target-model.ts';
import { SPECULATOR_DIR } from '../../support/target.ts';
import { workloads } from '../../support/workloads.ts';

const w = workloads();
const prompts = [w.repeat.prompts[0].slice(-40), w.code.prompts[2].slice(-32), w.repeat.prompts[2].slice(-36)];
const NEW = 40;
let target: TargetModel;
let greedy: number[][];
let replayed: ReplayedTarget | undefined;
beforeAll(async () => {
  replayed = await replayedCpuTarget(prompts, NEW);
  ({ target, greedy } = replayed);
}, 120_000);
afterAll(() => replayed?.close());

const CONFIGS = {
  suffix: { method: 'suffix' },
  'arctic+suffix': { method: 'arctic', model: SPECULATOR_DIR, enable_suffix_decoding: true, num_speculative_tokens: 8 },
};

describe('suffix updates overlapped with the target pass', () => {
  for (const [name, config] of Object.entries(CONFIGS)) {
    for (const mode of DEFER_MODES) {
      it(`${name}, ${mode}: the target's tokens; the updates applied inside the next pass; none left when idle`, async () => {
        const model = replayDraftModel(target, 3, 0.5) as unknown as Speculator;
        const drafter = await attachDrafter(target, parseEngineSpeculativeConfig(config), model, { suffixUpdates: mode });
        const p = drafter.engine.core().proposer;
        const cache = (p instanceof HybridProposer ? p.suffix : p as SuffixProposer).cache;
        expect(cache.deferUpdates).toBe(mode);
        // where each flush that had work to do ran: inside the backend's run or outside it
        const backend = targetBackend(target);
        const run = backend.run;
        let inRun = false, inside = 0, outside = 0;
        backend.run = async (x, o) => { inRun = true; try { return await run(x, o); } finally { inRun = false; } };
        const flush = cache.flush.bind(cache);
        cache.flush = () => { if (cache.pendingUpdates > 0) { if (inRun) inside++; else outside++; } flush(); };
        try {
          const all = await drafter.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [] });
          expect(all.outputs.map((o) => o.tokenIds)).toEqual(greedy);
          expect(all.metrics.acceptance.numDrafts).toBeGreaterThan(0);
          expect(cache.pendingUpdates).toBe(0);
          expect(cache.numActiveRequests).toBe(0);
          // the engine told the hybrid what it verified of the model's drafts: the measured bar left n_predict
          if (p instanceof HybridProposer) {
            expect(p.bar).toBe('measured');
            expect(all.metrics.acceptanceBySource.arctic?.numDrafts).toBeGreaterThan(0);
            expect(p.minScore).toBeLessThan(3);
          }
          if (mode === 'off') expect(inside + outside).toBe(0);
          else {
            // every step but the last applies the step before's updates under its pass; the last ones at idle
            expect(inside).toBeGreaterThan(NEW / 4);
            expect(outside).toBe(1);
          }
        } finally {
          backend.run = run;
          drafter.dispose();
        }
      }, 60_000);
    }
  }
});
