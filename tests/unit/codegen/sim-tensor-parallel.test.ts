// The compiled PTX of tensor-parallel rank programs, staged at their collectives, run on the PTX machine
// with the all-gather between the stages: every rank drafts exactly the TP = 1 interpreter tokens
// (a padded last shard, and ranks that hold padding only).
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { graphNodes } from '../../../compiler/ir/graph.ts';
import { gatherRanks, interpret } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { f32ToBf16 } from '../../../compiler/ir/numerics.ts';
import { shardVocabParallel, shardWeights, stageAtCollectives } from '../../../compiler/passes/tensor-parallel.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { rng } from '../../support/random-graph.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

function weightsFor(g: Graph, seed: number): Map<string, HostTensor> {
  const r = rng(seed);
  const out = new Map<string, HostTensor>();
  for (const p of graphNodes(g).filter((n) => n.op === 'param')) {
    const t = hostTensor('bf16', p.shape as number[]);
    const name = p.argOf<string>('name');
    const norm = /ln\.\d+\.weight|_ln\.0\.weight/.test(name);
    for (let i = 0; i < t.data.length; i++) (t.data as Uint16Array)[i] = f32ToBf16(norm ? 1 + (r.next() - 0.5) * 0.2 : (r.next() - 0.5) * 0.6);
    out.set(name, t);
  }
  return out;
}

function simStaged(g: Graph, weights: ReadonlyMap<string, HostTensor>, inputs: Record<string, HostTensor>, n: number): Int32Array[] {
  const ranks = Array.from({ length: n }, (_, r) => shardVocabParallel(g, n, r));
  const params = ranks.map((p) => shardWeights(weights, p.shards));
  const stages = ranks.map((p) => stageAtCollectives(p.graph).map((s) => ({ ...s, plan: compileProgram(s.graph, { maxDims: { B: 8 } }) })));
  const env = ranks.map(() => ({ ...inputs }) as Record<string, HostTensor>);
  for (let s = 0; s < stages[0].length; s++) {
    stages.forEach((st, r) => {
      const ins = Object.fromEntries(st[s].graph.inputs.map((i) => [i.argOf<string>('name'), env[r][i.argOf<string>('name')]]));
      Object.assign(env[r], runPlanSim(st[s].plan, ins, params[r]));
    });
    const k = stages[0][s].then;
    if (k !== null) {
      const gathered = gatherRanks(env.map((e) => e[`all_gather.${k}.send`]));
      for (const e of env) e[`all_gather.${k}`] = gathered;
    }
  }
  return env.map((e) => e.draft.data as Int32Array);
}

describe('tensor-parallel rank kernels on the PTX machine', () => {
  const cases = [
    { name: 'lstm V=200 TP=4 (last shard padded)', g: () => lstmSpeculator({ hiddenSize: 16, width: 16, vocabSize: 200, nPredict: 3, scaleInput: true }).graph, n: 4 },
    { name: 'lstm V=70 TP=8 (three ranks of padding only)', g: () => lstmSpeculator({ hiddenSize: 16, width: 16, vocabSize: 70, nPredict: 2, scaleInput: false }).graph, n: 8 },
    { name: 'mlp tied V=130 TP=2', g: () => mlpSpeculator({ hiddenSize: 16, width: 16, vocabSize: 130, nPredict: 3, scaleInput: true, tieWeights: true }).graph, n: 2 },
  ];
  it.each(cases)('$name: every rank equals the TP = 1 interpreter', ({ g: make, n }) => {
    const g = make();
    const w = weightsFor(g, 11);
    const r = rng(5);
    const B = 3, H = 16, V = (graphNodes(g).find((x) => x.op === 'param' && x.argOf<string>('name').startsWith('head'))!.shape[0] as number);
    const inputs = {
      hidden: hostTensor('f32', [B, H], Float32Array.from({ length: B * H }, () => (r.next() - 0.5) * 3)),
      tokens: hostTensor('i32', [B], Int32Array.from({ length: B }, () => Math.floor(r.next() * V))),
    };
    const plain = Array.from(interpret(g, inputs, w).draft.data as Int32Array);
    for (const d of simStaged(g, w, inputs, n)) expect(Array.from(d)).toEqual(plain);
  });
});
