// Every module compiled for the Arctic speculators at the fixture shapes and at Llama-3.1-8B size
// assembles with ptxas -arch=sm_90 without spills; the same program always gives the same PTX text.
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import { fp8Matmul } from '../../compiler/passes/fp8-matmul.ts';
import { compileSpeculator } from '../../runtime/compile-speculator.ts';
import { fp8PassOptions } from '../../runtime/quantize-program.ts';
import { lstmSpeculator } from '../../speculators/lstm.ts';
import { mlpSpeculator } from '../../speculators/mlp.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

const SHAPES = {
  'lstm H=D=64 V=512 n=3': () => lstmSpeculator({ hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3, scaleInput: true }),
  'lstm H=96 D=64 V=1000 n=3': () => lstmSpeculator({ hiddenSize: 96, width: 64, vocabSize: 1000, nPredict: 3, scaleInput: true }),
  'mlp tied H=64 D=48 V=512 n=3': () => mlpSpeculator({ hiddenSize: 64, width: 48, vocabSize: 512, nPredict: 3, scaleInput: true, tieWeights: true }),
  'mlp untied H=D=32 V=300 n=4': () => mlpSpeculator({ hiddenSize: 32, width: 32, vocabSize: 300, nPredict: 4, scaleInput: false, tieWeights: false }),
  'lstm Llama-3.1-8B H=D=4096 V=128256 n=3': () => lstmSpeculator({ hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true }),
  'lstm 8B fp8 head and projections': () => lstmSpeculator({
    hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true,
    weightDtype: (n) => (n.startsWith('head') || n.startsWith('projs') ? 'fp8e4m3' : 'bf16'),
  }),
  'mlp Llama-3.1-8B H=D=4096 V=128256 n=3': () => mlpSpeculator({ hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true, tieWeights: true }),
} as const;

const plans = new Map<string, ExecutionPlan>();
for (const [name, make] of Object.entries(SHAPES)) plans.set(name, compileProgram(make().graph, { maxDims: { B: 64 } }));
// the benchmark's maxDims (fewer batch tiles per pass: a different tensor-core kernel)
plans.set('lstm Llama-3.1-8B maxDims B=32', compileProgram(SHAPES['lstm Llama-3.1-8B H=D=4096 V=128256 n=3']().graph, { maxDims: { B: 32 } }));
// --quantize fp8-head as the runtime builds it (quantizeGraph's rewrite): scaled fp8 heads, whose argmax
// fuses into the tensor-core linear at both maxDims
for (const B of [32, 64]) {
  const g = fp8Matmul(SHAPES['lstm Llama-3.1-8B H=D=4096 V=128256 n=3']().graph, fp8PassOptions('fp8-head'));
  plans.set(`lstm Llama-3.1-8B quantize fp8-head maxDims B=${B}`, compileProgram(g, { maxDims: { B } }));
}
// what loadSpeculator, arcticc compile and the benchmark run (compileSpeculator: canonicalize first)
for (const model of ['lstm', 'mlp'] as const) {
  for (const quantize of ['none', 'fp8-head'] as const) {
    for (const maxBatch of [32, 64]) {
      const traced = SHAPES[`${model} Llama-3.1-8B H=D=4096 V=128256 n=3`]().graph;
      plans.set(`${model} Llama-3.1-8B compileSpeculator quantize ${quantize} maxBatch ${maxBatch}`, compileSpeculator(traced, { quantize, maxBatch }).plan);
    }
    // bf16 activations (one tensor-core term), as the benchmark's "-bf16a" rows compile it
    const traced = SHAPES[`${model} Llama-3.1-8B H=D=4096 V=128256 n=3`]().graph;
    plans.set(`${model} Llama-3.1-8B compileSpeculator quantize ${quantize} activations bf16 maxBatch 64`, compileSpeculator(traced, { quantize, activations: 'bf16', maxBatch: 64 }).plan);
  }
}

it('compiles the same program to the same text and hash', () => {
  const again = compileProgram(SHAPES['lstm H=D=64 V=512 n=3']().graph, { maxDims: { B: 64 } });
  const first = plans.get('lstm H=D=64 V=512 n=3')!;
  expect(again.modules).toEqual(first.modules);
  expect(again.irHash).toBe(first.irHash);
  expect(JSON.stringify(again)).toBe(JSON.stringify(first));
});

describePtxas('speculator modules assemble with ptxas -arch=sm_90', (ptxas) => {
  const modules: Module[] = [...plans].flatMap(([name, p]) => Object.entries(p.modules).map(([k, text]) => ({ name: `${name}/${k}`, text })));

  it(`assembles all ${modules.length} modules with no register spills`, async () => {
    const results = await assemble(ptxas, modules, { batch: 1, jobs: 3, verbose: true });
    const failed = results.filter((r) => !r.ok).map((r) => `${r.name}:\n${r.log}`);
    expect(failed).toEqual([]);
    const spills = results.filter((r) => /[1-9]\d* bytes spill/.test(r.log)).map((r) => r.name);
    expect(spills).toEqual([]);
    const big = results.filter((r) => r.name.startsWith('lstm Llama'))
      .map((r) => `${r.name.split('/')[1]}: ${/Used (\d+) registers/.exec(r.log)?.[1]} registers`);
    console.log(`ptxas -v, Llama-3.1-8B LSTM:\n  ${big.join('\n  ')}`);
  });
});
