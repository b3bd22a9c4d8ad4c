// A rank program split at its collectives: running the stages in order, with the all-gather between
// them, gives exactly the lockstep interpretation (and so the TP = 1 drafts).
import { describe, expect, it } from 'vitest';
import { graphNodes } from '../../../compiler/ir/graph.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { gatherRanks, interpret } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import type { RankStage } from '../../../compiler/passes/tensor-parallel.ts';
import { shardVocabParallel, shardWeights, stageAtCollectives } from '../../../compiler/passes/tensor-parallel.ts';
import { loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { programFor } from '../../../runtime/speculator-program.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { FIXTURES, fixtureBatch, fixtureDir } from '../../support/fixtures.ts';

/** every rank runs stage s, then the sends are gathered; returns each rank's outputs of every stage */
function runStaged(stages: RankStage[][], inputs: Record<string, HostTensor>, params: ReadonlyMap<string, HostTensor>[]): Record<string, HostTensor>[] {
  const env = stages.map(() => ({ ...inputs }) as Record<string, HostTensor>);
  for (let s = 0; s < stages[0].length; s++) {
    stages.forEach((st, r) => {
      const g = st[s].graph;
      const ins = Object.fromEntries(g.inputs.map((i) => [i.argOf<string>('name'), env[r][i.argOf<string>('name')]]));
      Object.assign(env[r], interpret(g, ins, params[r]));
    });
    const k = stages[0][s].then;
    if (k !== null) {
      const g = gatherRanks(env.map((e) => e[`all_gather.${k}.send`]));
      for (const e of env) e[`all_gather.${k}`] = g;
    }
  }
  return env;
}

function check(g: Graph, weights: ReadonlyMap<string, HostTensor>, inputs: Record<string, HostTensor>, n: number): void {
  const plain = Array.from(interpret(g, inputs, weights).draft.data as Int32Array);
  const ranks = Array.from({ length: n }, (_, r) => shardVocabParallel(g, n, r));
  const stages = ranks.map((p) => stageAtCollectives(p.graph));
  for (const st of stages) {
    expect(st.map((x) => x.then)).toEqual([...Array.from({ length: ranks[0].collectives }, (_, k) => k), null]);
    for (const x of st) expect(graphNodes(x.graph).some((m) => m.op === 'all_gather')).toBe(false);
  }
  const env = runStaged(stages, inputs, ranks.map((p) => shardWeights(weights, p.shards)));
  for (const e of env) expect(Array.from(e.draft.data as Int32Array)).toEqual(plain);
}

describe('rank programs in stages', () => {
  it.each(FIXTURES)('%s: TP = 2 and 8 staged equal TP = 1', (name) => {
    const { config, weights } = loadCheckpoint(fixtureDir(name), { quiet: true });
    const g = programFor(config, weights).graph;
    const { hidden, tokens } = fixtureBatch(name);
    const inputs = { hidden: hostTensor('f32', [tokens.length, config.hiddenSize], hidden), tokens: hostTensor('i32', [tokens.length], tokens) };
    for (const n of [2, 8]) check(g, weights, inputs, n);
  });
  it('a rank of padding only (V = 70, N = 8) sends the same constant every step, carried across stages', () => {
    const g = lstmSpeculator({ hiddenSize: 16, width: 16, vocabSize: 70, nPredict: 3, scaleInput: false, weightDtype: () => 'f32' }).graph;
    const w = new Map<string, HostTensor>();
    let seed = 1;
    for (const p of graphNodes(g).filter((x) => x.op === 'param')) {
      const t = hostTensor('f32', p.shape as number[]);
      for (let i = 0; i < t.data.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; (t.data as Float32Array)[i] = (seed / 2 ** 32 - 0.5); }
      w.set(p.argOf<string>('name'), t);
    }
    const inputs = { hidden: hostTensor('f32', [3, 16], Float32Array.from({ length: 48 }, (_, i) => Math.sin(i))), tokens: hostTensor('i32', [3], Int32Array.of(1, 40, 69)) };
    check(g, w, inputs, 8);
    const st = stageAtCollectives(shardVocabParallel(g, 8, 7).graph);
    expect(st[1].graph.inputs.map((i) => i.argOf<string>('name')).filter((x) => x.startsWith('carry.')).length).toBeGreaterThan(0);
  });
});
