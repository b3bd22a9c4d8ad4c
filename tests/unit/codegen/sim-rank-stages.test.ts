// The stages exactly as the CUDA rank executor runs them (compileRankStages: stageAtCollectives, each
// stage through the speculator passes and planSpeculator), run on the PTX machine in order with the
// all-gather between them: every fixture drafts its expected tokens at TP = 1 (the one-rank NCCL path of
// the GPU tests) and TP = 2, on every rank.
import { describe, expect, it } from 'vitest';
import { gatherRanks } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { shardVocabParallel, shardWeights } from '../../../compiler/passes/tensor-parallel.ts';
import { loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { compileRankStages } from '../../../runtime/compile-speculator.ts';
import { programFor } from '../../../runtime/speculator-program.ts';
import { FIXTURES, fixtureBatch, fixtureDir, rows } from '../../support/fixtures.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

describe('compileRankStages on the PTX machine', () => {
  for (const name of FIXTURES.filter((f) => f !== 'lstm-tiny-bin')) {
    it(`${name}: TP = 1 and 2 staged plans draft the expected tokens`, () => {
      const { config, weights } = loadCheckpoint(fixtureDir(name), { quiet: true });
      const g = programFor(config, weights).graph;
      const b = fixtureBatch(name, 3);
      const B = b.tokens.length;
      const inputs = { hidden: hostTensor('f32', [B, config.hiddenSize], b.hidden), tokens: hostTensor('i32', [B], b.tokens) };
      for (const n of [1, 2]) {
        const ranks = Array.from({ length: n }, (_, r) => shardVocabParallel(g, n, r));
        const params = ranks.map((p) => shardWeights(weights, p.shards));
        const stages = ranks.map((p) => compileRankStages(p.graph, { maxBatch: 4 }));
        const env = ranks.map(() => ({ ...inputs }) as Record<string, HostTensor>);
        for (let s = 0; s < stages[0].length; s++) {
          stages.forEach((st, r) => {
            const plan = st[s].plan;
            const ins = Object.fromEntries(plan.inputs.map((id) => plan.buffers.find((x) => x.id === id)!.name!).map((k) => [k, env[r][k]]));
            Object.assign(env[r], runPlanSim(plan, ins, params[r]));
          });
          const k = stages[0][s].then;
          if (k !== null) {
            const gathered = gatherRanks(env.map((e) => e[`all_gather.${k}.send`]));
            for (const e of env) e[`all_gather.${k}`] = gathered;
          }
        }
        for (const e of env) expect(rows(e.draft.data as Int32Array, config.nPredict), `${name} TP=${n}`).toEqual(b.expected);
      }
    }, 120_000);
  }
});
