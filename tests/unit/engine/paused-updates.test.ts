// With per-step draft sizing, a step the sizer keeps from drafting also leaves out the suffix trees'
// updates (Proposer.updatesOptional), whose cost it counts against drafting: at a batch where drafts and
// updates cost more than they gain, request-steps go by without tree updates, and the tokens are still
// exactly greedy decoding's. The device is the replay stand-in (bench/replay-stand-in.ts) with a simulated
// pass cost that makes every verified draft row dear.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordGreedy, replayTarget } from '../../../bench/replay-stand-in.ts';
import { SuffixProposer } from '../../../runtime/decoding/suffix-proposer.ts';
import type { RequestId } from '../../../runtime/decoding/proposer.ts';
import { SpeculativeEngine } from '../../../runtime/engine/engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { TARGET_DIR } from '../../support/target.ts';
import { workloads } from '../../support/workloads.ts';

const N = 16, NEW = 40;
const w = workloads();
const prompts = Array.from({ length: N }, (_, i) => (i % 2 ? w.repeat : w.code).prompts[i].slice(-24));
let target: TargetModel;
let greedy: number[][];
let restore: () => void;
beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 128, maxNumSeqs: N });
  greedy = await recordGreedy(target, prompts, NEW);
  // a pass costs 0.2 ms + 0.01 ms a token row: 16 one-row requests 0.36 ms, with 16-token drafts 2.9 ms
  restore = replayTarget(target, prompts, greedy, { passMs: 0.2, passMsPerRow: 0.01 });
}, 120_000);
afterAll(() => { restore?.(); target?.close(); });

/** a suffix proposer whose tree updates cost 0.05 ms per request-step more than they do */
class DearUpdates extends SuffixProposer {
  calls = 0;
  override onTokens(id: RequestId, tokens: ArrayLike<number>): void {
    this.calls++;
    const until = performance.now() + 0.05;
    while (performance.now() < until) { /* the simulated cost */ }
    super.onTokens(id, tokens);
  }
}

describe('paused proposer updates', () => {
  it('the sizer leaves a suffix proposer\'s updates out on the steps it keeps from drafting; tokens stay greedy', async () => {
    const proposer = new DearUpdates();
    expect(proposer.updatesOptional).toBe(true);
    const engine = new SpeculativeEngine(target, proposer, parseEngineSpeculativeConfig({ method: 'suffix', dynamic_draft_length: true }), 16);
    let requestSteps = 0;
    const { outputs } = await engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [], onTokens: () => { requestSteps++; } });
    expect(outputs.map((o) => o.tokenIds)).toEqual(greedy);
    expect(proposer.calls).toBeGreaterThan(0);
    // without pausing every request-step calls onTokens once (the next test); here the sizer first measures
    // the passes it compares, then keeps the steps from drafting (about half of this short run's 30 steps)
    expect(proposer.calls).toBeLessThan(requestSteps * 0.8);
  }, 120_000);

  it('without the sizer every request-step updates the trees', async () => {
    const proposer = new DearUpdates();
    const engine = new SpeculativeEngine(target, proposer, parseEngineSpeculativeConfig({ method: 'suffix', dynamic_draft_length: false }), 16);
    let requestSteps = 0;
    const { outputs } = await engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [], onTokens: () => { requestSteps++; } });
    expect(outputs.map((o) => o.tokenIds)).toEqual(greedy);
    expect(proposer.calls).toBe(requestSteps);
  }, 120_000);
});
