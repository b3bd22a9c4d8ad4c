// What the engine reports about its decode steps (issue 9): host↔device syncs per step (on the CPU: the
// target pass, plus the draft-model pass when a model drafts), and each request's decode-step time and
// tokens, the figure that bench/e2e.ts compares with what acceptance and step times allow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { SPECULATOR_DIR, TARGET_DIR } from '../../support/target.ts';
import { DRAFTERS, workloads } from '../../support/workloads.ts';

const w = workloads();
const prompts = [w.repeat.prompts[0].slice(-40), w.code.prompts[1].slice(-48)];
const NEW = 24;
let target: TargetModel;
let spec: Speculator;
beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 128, maxNumSeqs: 2 });
  spec = await loadSpeculator({ model: SPECULATOR_DIR, device: 'cpu', quiet: true });
}, 120_000);
afterAll(() => { spec?.close(); target?.close(); });

describe('decode-step accounting', () => {
  for (const d of DRAFTERS) {
    it(`${d.name}: syncs per step, decode tokens and time per request`, async () => {
      const drafter = await attachDrafter(target, d.config === undefined ? null : parseEngineSpeculativeConfig(d.config), spec);
      try {
        // one request alone: every step after its prefill is a decode step
        const one = await drafter.engine.generate([prompts[0]], { maxNewTokens: NEW, stopTokenIds: [] });
        const o = one.outputs[0], m = one.metrics;
        expect(o.decodeTokens).toBe(o.tokenIds.length - 1); // the prefill step gave the first token
        expect(o.decodeMs).toBeGreaterThan(0);
        expect(o.decodeMs).toBeLessThanOrEqual(o.ms);
        const decodeSteps = m.steps - m.prefillSteps;
        expect(m.tokensPerRequestStep).toBeCloseTo(o.decodeTokens / decodeSteps, 12);
        if (d.name !== 'none') expect(m.tokensPerRequestStep).toBeLessThanOrEqual(m.acceptance.meanAcceptanceLength + 1e-12);
        expect(m.loopMsPerStep).toBeGreaterThanOrEqual(0);
        // the target pass, and the speculator's pass when the model drafts (every decode step for arctic)
        if (d.name === 'arctic') expect(m.syncsPerStep).toBe(2);
        else if (d.name === 'arctic+suffix') { expect(m.syncsPerStep).toBeGreaterThanOrEqual(1); expect(m.syncsPerStep).toBeLessThanOrEqual(2); }
        else expect(m.syncsPerStep).toBe(1);
        // two at once: decode tokens never exceed the output, and only prefill steps are left out
        const two = await drafter.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [] });
        for (const x of two.outputs) {
          expect(x.decodeTokens).toBeGreaterThan(0);
          expect(x.decodeTokens).toBeLessThan(x.tokenIds.length);
          expect(x.decodeMs).toBeLessThanOrEqual(x.ms);
        }
      } finally {
        drafter.dispose();
      }
    }, 120_000);
  }
});
