// The kernels of tensor-parallel rank programs (vocab-sharded heads with their local top-1, the 8-byte
// pack, the reduction of the gathered rows, whole and staged at the collectives; the all_gather itself is an NCCL call, not PTX) assemble with
// ptxas -arch=sm_90, at the fixture shapes and at Llama-3.1-8B size with 8 ranks.
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import { graphNodes } from '../../compiler/ir/graph.ts';
import { cutAtCollectives, shardVocabParallel, stageAtCollectives } from '../../compiler/passes/tensor-parallel.ts';
import { compileRankStages } from '../../runtime/compile-speculator.ts';
import { lstmSpeculator } from '../../speculators/lstm.ts';
import { mlpSpeculator } from '../../speculators/mlp.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

const CASES = [
  { name: 'lstm H=D=64 V=512', g: () => lstmSpeculator({ hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3, scaleInput: true }).graph, tp: [1, 2, 8] },
  { name: 'mlp untied H=D=32 V=300', g: () => mlpSpeculator({ hiddenSize: 32, width: 32, vocabSize: 300, nPredict: 4, scaleInput: false, tieWeights: false }).graph, tp: [2, 4] },
  { name: 'lstm V=70 (padding-only ranks)', g: () => lstmSpeculator({ hiddenSize: 32, width: 32, vocabSize: 70, nPredict: 3, scaleInput: false }).graph, tp: [8] },
  { name: 'lstm Llama-3.1-8B', g: () => lstmSpeculator({ hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true }).graph, tp: [8] },
  { name: 'mlp Llama-3.1-8B', g: () => mlpSpeculator({ hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true, tieWeights: true }).graph, tp: [8] },
];

const modules: Module[] = [];
for (const c of CASES) {
  const g = c.g();
  for (const n of c.tp) {
    // the first, a middle and the last rank (the last holds the padding rows)
    for (const r of [...new Set([0, n >> 1, n - 1])]) {
      const rank = shardVocabParallel(g, n, r).graph;
      const plan = compileProgram(cutAtCollectives(rank), { maxDims: { B: 64 } });
      for (const [k, text] of Object.entries(plan.modules)) modules.push({ name: `${c.name} TP=${n} rank ${r}/${k}`, text });
      // and staged at its collectives, as an executor runs it (the first and last rank of the 8-rank cases)
      if (n === 8 && r !== n >> 1) for (const [s, st] of stageAtCollectives(rank).entries()) {
        for (const [k, text] of Object.entries(compileProgram(st.graph, { maxDims: { B: 64 } }).modules)) modules.push({ name: `${c.name} TP=${n} rank ${r} stage ${s}/${k}`, text });
      }
    }
  }
}

// the stages as the CUDA rank executor loads them (compileRankStages: the speculator passes per stage),
// at TP = 1 (the one-GPU NCCL path) and for the last rank of TP = 8, at Llama-3.1-8B size
for (const c of [CASES[0], CASES[3], CASES[4]]) {
  for (const [n, r] of [[1, 0], [8, 7]] as const) {
    for (const [s, st] of compileRankStages(shardVocabParallel(c.g(), n, r).graph, { maxBatch: 64 }).entries()) {
      for (const [k, text] of Object.entries(st.plan.modules)) modules.push({ name: `${c.name} TP=${n} rank ${r} compileRankStages stage ${s}/${k}`, text });
    }
  }
}

it('the cut program has no collective, and a send output and a gathered input per step', () => {
  const p = shardVocabParallel(CASES[0].g(), 2, 1);
  const cut = cutAtCollectives(p.graph);
  expect(graphNodes(cut).some((n) => n.op === 'all_gather')).toBe(false);
  expect(cut.outputs.map((o) => o.name)).toEqual(['draft', 'all_gather.0.send', 'all_gather.1.send', 'all_gather.2.send']);
  expect(cut.outputs.slice(1).map((o) => o.node.shape)).toEqual([['B', 2], ['B', 2], ['B', 2]]);
  expect(cut.inputs.map((i) => i.argOf('name'))).toEqual(['hidden', 'tokens', 'all_gather.0', 'all_gather.1', 'all_gather.2']);
});

describePtxas('tensor-parallel rank kernels assemble with ptxas -arch=sm_90', (ptxas) => {
  it(`assembles all ${modules.length} modules`, async () => {
    const results = await assemble(ptxas, modules, { batch: 1, jobs: 3, verbose: true });
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}:\n${r.log}`)).toEqual([]);
    expect(results.filter((r) => /[1-9]\d* bytes spill/.test(r.log)).map((r) => r.name)).toEqual([]);
  });
});
