// The speculative engine on CUDA: every drafter (n-gram, suffix, Arctic, Arctic + suffix) gives exactly
// the tokens of plain greedy decoding on the dev workloads at concurrency 1 and 8, and those equal the CPU
// backend's; sampling through the real loop keeps the target's distribution (chi-square, fixed seeds).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachDrafter } from '../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../runtime/engine/speculative-config.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import type { Speculator } from '../../runtime/speculator.ts';
import type { TargetModel } from '../../runtime/target/target-model.ts';
import { loadTarget } from '../../runtime/target/target-model.ts';
import { SPECULATOR_DIR, TARGET_DIR } from '../support/target.ts';
import { DRAFTERS, workloads } from '../support/workloads.ts';
import { describeGpuCompiled } from './gpu-env.ts';

const w = workloads();
const prompts = [...w.code.prompts.slice(0, 8), ...w.repeat.prompts.slice(0, 8)];
const NEW = 96;

describeGpuCompiled('speculative engine on CUDA', () => {
  let target: TargetModel;
  let spec: Speculator;
  let plain: number[][];
  beforeAll(async () => {
    target = await loadTarget({ model: TARGET_DIR, device: 'cuda', maxModelLen: 512, maxNumSeqs: 8 });
    spec = await loadSpeculator({ model: SPECULATOR_DIR, device: 'cuda', quiet: true, maxBatch: 8 });
    plain = (await (await attachDrafter(target, null)).engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [], maxConcurrency: 1 })).outputs.map((o) => o.tokenIds);
  }, 300_000);
  afterAll(() => { spec?.close(); target?.close(); });

  it('plain greedy on CUDA equals the CPU backend on 4 of the prompts', async () => {
    const cpu = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 512, maxNumSeqs: 4 });
    try {
      const picks = [0, 3, 8, 11].map((i) => prompts[i]);
      const got = (await (await attachDrafter(cpu, null)).engine.generate(picks, { maxNewTokens: 24, stopTokenIds: [] })).outputs.map((o) => o.tokenIds);
      expect(got).toEqual([0, 3, 8, 11].map((i) => plain[i].slice(0, 24)));
    } finally { cpu.close(); }
  }, 300_000);

  for (const d of DRAFTERS.slice(1)) {
    for (const c of [1, 8]) {
      it(`${d.name} at concurrency ${c}: identical to plain greedy on 8 code and 8 repeat prompts`, async () => {
        const drafter = await attachDrafter(target, parseEngineSpeculativeConfig(d.config), spec);
        try {
          const { outputs, metrics } = await drafter.engine.generate(prompts, { maxNewTokens: NEW, stopTokenIds: [], maxConcurrency: c });
          outputs.forEach((o, i) => expect(o.tokenIds, `prompt ${i}`).toEqual(plain[i]));
          expect(metrics.acceptance.meanAcceptanceLength).toBeGreaterThan(1);
          expect(target.slots.inUse).toBe(0);
        } finally { drafter.dispose(); }
      }, 300_000);
    }
  }

  it('sampling through the real loop keeps the distribution of the first token after a fixed prefix', async () => {
    // 400 requests of one prompt, temperature 1, top-k 8: the first sampled token (prefill) and the second
    // (drafted by Arctic + suffix, then verified) against the target's own probabilities
    const drafter = await attachDrafter(target, parseEngineSpeculativeConfig(DRAFTERS[4].config), spec);
    try {
      const p = prompts[2].slice(0, 40);
      const n = 400;
      const seeds = Array.from({ length: n }, (_, i) => 1000 + i);
      const { outputs } = await drafter.engine.generate(new Array(n).fill(p), { maxNewTokens: 2, stopTokenIds: [], temperature: 1, topK: 8, seeds });
      const { samplingProbs } = await import('../../runtime/target/sampling.ts');
      const probsAfter = async (ctx: number[]): Promise<Float64Array> => {
        const seq = target.newSequence('probe');
        try {
          const [r] = await target.forward([{ seq, tokens: ctx, want: 'last' }], { logits: true });
          return samplingProbs(r.logits!, { temperature: 1, topK: 8 });
        } finally { seq.close(); }
      };
      // chi-square critical values at α = 0.001 by degrees of freedom
      const CRIT = [10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32];
      const check = (probs: Float64Array, samples: number[], what: string): void => {
        const counts = new Map<number, number>();
        for (const t of samples) counts.set(t, (counts.get(t) ?? 0) + 1);
        for (const t of counts.keys()) expect(probs[t], `${what}: sampled token ${t} outside top-k`).toBeGreaterThan(0);
        let chi = 0, cells = 0;
        probs.forEach((q, t) => { if (q > 0) { const e = q * samples.length; chi += ((counts.get(t) ?? 0) - e) ** 2 / e; cells++; } });
        expect(chi, `${what}: chi-square over ${cells} cells, ${samples.length} samples`).toBeLessThan(CRIT[cells - 2]);
      };
      const p1 = await probsAfter(p);
      check(p1, outputs.map((o) => o.tokenIds[0]), 'first token (prefill)');
      // the second token went through a draft and the sampling verifier: condition on the likeliest first token
      const top = p1.indexOf(Math.max(...p1));
      const second = outputs.filter((o) => o.tokenIds[0] === top).map((o) => o.tokenIds[1]);
      expect(second.length).toBeGreaterThan(60);
      check(await probsAfter([...p, top]), second, 'second token (verified draft)');
    } finally { drafter.dispose(); }
  }, 300_000);
});
