// Every module of the compiled training steps assembles with ptxas -arch=sm_90 without spills: the Arctic
// LSTM and MLP at the fixture's shapes (V 4096: the cross entropy in one chunk, and in four), and the LSTM at
// Llama-3.1-8B size (V 128256: 32 vocabulary chunks, linearCrossEntropy), at the trainer's 8096 rows.
import { expect, it } from 'vitest';
import { trainingForm } from '../../compiler/autodiff/training-form.ts';
import { compileProgram } from '../../compiler/compile.ts';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import { lstmSpeculator } from '../../speculators/lstm.ts';
import { mlpSpeculator } from '../../speculators/mlp.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

const FIX = { hiddenSize: 256, width: 256, vocabSize: 4096, nPredict: 3, scaleInput: true, weightDtype: () => 'f32' as const };
const BIG = { ...FIX, hiddenSize: 4096, width: 4096, vocabSize: 128256 };
const ROWS = 8096;
const plans = new Map<string, ExecutionPlan>();
const chunks = new Map<string, number>();
const add = (name: string, g: Parameters<typeof trainingForm>[0], ceChunk?: number): void => {
  const tf = trainingForm(g, { rows: ROWS, hiddenDtype: 'bf16', ...(ceChunk ? { ceChunk } : {}) });
  chunks.set(name, tf.ceChunks);
  plans.set(name, compileProgram(tf.graph, { maxDims: {} }));
};
add('lstm fixture', lstmSpeculator(FIX).graph);
add('mlp tied fixture', mlpSpeculator({ ...FIX, tieWeights: true }).graph);
add('lstm fixture ceChunk 1024', lstmSpeculator(FIX).graph, 1024);
add('lstm Llama-3.1-8B', lstmSpeculator(BIG).graph);

it('chunks the cross entropy only where asked or where the vocabulary needs it', () => {
  expect(Object.fromEntries(chunks)).toEqual({ 'lstm fixture': 1, 'mlp tied fixture': 1, 'lstm fixture ceChunk 1024': 4, 'lstm Llama-3.1-8B': 32 });
});

describePtxas('training-step modules assemble with ptxas -arch=sm_90', (ptxas) => {
  it('assembles every module with no register spills', async () => {
    const modules: Module[] = [...plans].flatMap(([name, p]) => Object.entries(p.modules).map(([k, text]) => ({ name: `${name}/${k}`, text })));
    expect(modules.length).toBeGreaterThan(200);
    const results = await assemble(ptxas, modules, { batch: 8, jobs: 3, verbose: true });
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}:\n${r.log}`)).toEqual([]);
    expect(results.filter((r) => /[1-9]\d* bytes spill/.test(r.log)).map((r) => r.name)).toEqual([]);
  }, 600_000);
});
