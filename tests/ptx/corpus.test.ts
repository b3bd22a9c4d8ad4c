// A corpus of random small graphs (every op, every dtype, symbolic and static dims) compiles, and every
// module assembles with ptxas -arch=sm_90. Two generators: ours (random-graphs.ts: realistic fusion
// patterns around each op) and the shared IR fuzzer (tests/support: awkward names, values, rank-0).
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import { COLLECTIVE, OPS } from '../../compiler/ir/ops.ts';
import { graphNodes } from '../../compiler/ir/graph.ts';
import { randomGraph } from '../support/random-graph.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';
import { CORPUS_SIZE, corpusGraph } from './random-graphs.ts';

const FUZZ = 160;
const graphs = [
  ...Array.from({ length: CORPUS_SIZE }, (_, i) => corpusGraph(i)),
  ...Array.from({ length: FUZZ }, (_, i) => randomGraph(1000 + i, 8)),
];
const maxDims = { B: 64, S: 7, inf: 3, graph: 5 };
const modules: Module[] = graphs.flatMap((g, i) =>
  Object.entries(compileProgram(g, { maxDims }).modules).map(([k, text]) => ({ name: `graph ${i} (${g.name})/${k}`, text })));

it(`the corpus has ≥ 200 graphs and covers every op but the collectives`, () => {
  expect(graphs.length).toBeGreaterThanOrEqual(200);
  const seen = new Set(graphs.flatMap((g) => graphNodes(g).map((n) => n.op)));
  // a collective is not a kernel (NCCL on the stream, runtime/nccl): tests/ptx/tensor-parallel.test.ts
  // assembles the kernels of the sharded programs around it
  expect(OPS.filter((op) => !seen.has(op) && !COLLECTIVE.has(op))).toEqual([]);
});

describePtxas('random graph modules assemble with ptxas -arch=sm_90', (ptxas) => {
  it(`assembles all ${modules.length} modules of ${graphs.length} graphs`, async () => {
    const results = await assemble(ptxas, modules, { batch: 24, jobs: 3 });
    expect(results).toHaveLength(modules.length);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}:\n${r.log}`)).toEqual([]);
  }, 120_000);
});
