// The emitted PTX, executed by the PTX machine in ptx-sim/ (no GPU), against the reference interpreter:
// the bundled speculator fixtures must reproduce their float64 drafts exactly, and every graph of the
// random corpus must match within dtype tolerances. The machine also fails on any out-of-bounds or
// misaligned access, overlapping buffers in one launch, and cross-thread races without bar.sync.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { hostTensor, reader } from '../../../compiler/ir/tensor-data.ts';
import { loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { compileSpeculator } from '../../../runtime/compile-speculator.ts';
import { programFor } from '../../../runtime/speculator-program.ts';
import { CORPUS_SIZE, corpusGraph } from '../../ptx/random-graphs.ts';
import { FIXTURES, fixtureBatch, fixtureDir, rows } from '../../support/fixtures.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

describe.each(FIXTURES)('fixture %s on the PTX machine', (name) => {
  it('reproduces the reference drafts exactly (8 cases in one batch)', () => {
    const { config, weights } = loadCheckpoint(fixtureDir(name), { quiet: true });
    const program = programFor(config, weights);
    // the plan loadSpeculator's CUDA backend runs (and arcticc compile writes)
    const { plan } = compileSpeculator(program.graph, { maxBatch: 64 });
    const { hidden, tokens, expected } = fixtureBatch(name, 8);
    const B = tokens.length;
    const out = runPlanSim(plan, {
      hidden: hostTensor('f32', [B, config.hiddenSize], hidden),
      tokens: hostTensor('i32', [B], tokens),
    }, weights);
    expect(rows(out.draft.data as Int32Array, config.nPredict)).toEqual(expected);
  });
});

describe('random corpus on the PTX machine', () => {
  const dims = new Map([['B', 3]]);
  it.each(Array.from({ length: CORPUS_SIZE }, (_, i) => i))('graph %i matches the interpreter', (i) => {
    const g = corpusGraph(i);
    const { inputs, params } = randomInputs(g, rng(i), dims);
    let want;
    try {
      want = interpret(g, inputs, params);
    } catch {
      return; // inputs the interpreter rejects (integer division by zero, an id out of range, an unbound dim)
    }
    const got = runPlanSim(compileProgram(g, { maxDims: { B: 8 } }), inputs, params);
    for (const o of g.outputs) {
      const bad = mismatches(got[o.name], want[o.name]);
      const a = reader(got[o.name]), b = reader(want[o.name]);
      expect(bad.slice(0, 3).map((j) => `${o.name}[${j}] = ${a(j)}, interpreter ${b(j)}`)).toEqual([]);
    }
  });
});
