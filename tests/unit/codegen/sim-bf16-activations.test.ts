// Speculators compiled with bf16 activations (compileSpeculator { activations: 'bf16' }: the bf16-activations
// pass) on the PTX machine against the interpreter on the same lowered graph: drafts equal at batch 1 and 3
// (GEMV passes) and 5 and 8 (tensor-core linears, one bf16 term per activation), bf16 and fp8 heads. And the
// plan really is the one-term one: its tensor-core modules hold a third of the f32 plan's mma instructions.
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { compileSpeculator } from '../../../runtime/compile-speculator.ts';
import { quantizeGraph } from '../../../runtime/quantize-program.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { rng } from '../../support/random-graph.ts';
import { randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

const SHAPE = { hiddenSize: 64, width: 64, vocabSize: 520, nPredict: 3, scaleInput: true };
const traced = { lstm: () => lstmSpeculator(SHAPE).graph, mlp: () => mlpSpeculator({ ...SHAPE, tieWeights: true }).graph };
const mmas = (modules: Record<string, string>): number => Object.entries(modules).filter(([k]) => k.includes('_tc')).reduce((a, [, t]) => a + t.split('mma.sync').length - 1, 0);

describe('bf16 activations on the PTX machine', () => {
  it.each([['lstm', 'none'], ['lstm', 'fp8-head'], ['mlp', 'none'], ['mlp', 'fp8-head']] as const)('%s, quantize %s: drafts equal the interpreter at B = 1, 3, 5, 8', (model, quantize) => {
    const g = traced[model]();
    const { graph, plan } = compileSpeculator(g, { quantize, activations: 'bf16', maxBatch: 8 });
    const f32 = compileSpeculator(g, { quantize, maxBatch: 8 }).plan;
    expect(mmas(plan.modules)).toBeGreaterThan(0);
    expect(mmas(plan.modules) * 3).toBe(mmas(f32.modules));
    const base = randomInputs(graph, rng(7), new Map([['B', 1]])).params;
    const params: Map<string, HostTensor> = quantize === 'none' ? base : quantizeGraph(g, randomInputs(g, rng(7), new Map([['B', 1]])).params, quantize).weights;
    for (const B of [1, 3, 5, 8]) {
      const r = rng(100 + B);
      const inputs = {
        hidden: hostTensor('f32', [B, SHAPE.hiddenSize], Float32Array.from({ length: B * SHAPE.hiddenSize }, () => r.next() * 4 - 2)),
        tokens: hostTensor('i32', [B], Int32Array.from({ length: B }, () => r.int(0, SHAPE.vocabSize - 1))),
      };
      const want = interpret(graph, inputs, params).draft.data as Int32Array, got = runPlanSim(plan, inputs, params).draft.data as Int32Array;
      expect(Array.from(got), `B = ${B}`).toEqual(Array.from(want));
    }
  }, 120_000);
});
