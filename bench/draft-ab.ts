// Diagnosis beside gpu-bench: the 8B LSTM/MLP draft plan (compileProgram on the lowered speculator, maxDims B 64) at
// several batches, default vs no tensor-core K split; ms per proposal from graph replays, per-launch profiles.
//   AB_MODELS=lstm,mlp AB_B=1,2,4,8,32 AB_PROF=2,32 [AB_ACT=bf16] [AB_MAXB=64] [AB_VARIANTS=default,nosplit] [AB_QUANT=fp8-head] node bench/draft-ab.ts
import { compileProgram } from '../compiler/compile.ts';
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import { openDevice } from '../runtime/cuda/device.ts';
import { PlanExecutor } from '../runtime/cuda/executor.ts';
import { EventTimer } from '../runtime/cuda/graph.ts';
import { lowerSpeculator } from '../runtime/compile-speculator.ts';
import { lstmSpeculator } from '../speculators/lstm.ts';
import { mlpSpeculator } from '../speculators/mlp.ts';
import { median, randomWeights } from './random-weights.ts';
const SHAPE = { hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true };
const dev = openDevice();
const batches = (process.env.AB_B ?? '1,2,4,8,32').split(',').map(Number);
const prof = new Set((process.env.AB_PROF ?? '2,32').split(',').map(Number));
for (const model of (process.env.AB_MODELS ?? 'lstm').split(',')) {
  const traced = (model === 'lstm' ? lstmSpeculator(SHAPE) : mlpSpeculator({ ...SHAPE, tieWeights: true })).graph;
  const lowered = lowerSpeculator(traced, { activations: process.env.AB_ACT === 'bf16' ? 'bf16' : 'f32', quantize: process.env.AB_QUANT === 'fp8-head' ? 'fp8-head' : 'none' });
  const weights = randomWeights(lowered);
  const variants = (process.env.AB_VARIANTS ?? 'default,nosplit').split(',');
  for (const [name, opts] of ([['default', {}], ['nosplit', { tcSplit: { minWeights: Infinity } }]] as const).filter(([n]) => variants.includes(n))) {
    const plan = compileProgram(lowered, { maxDims: { B: Number(process.env.AB_MAXB ?? 64) }, ...opts });
    const ex = new PlanExecutor(dev, plan, weights);
    const timer = new EventTimer(dev);
    for (const B of batches) {
      const inputs = {
        hidden: hostTensor('f32', [B, 4096], Float32Array.from({ length: B * 4096 }, (_, j) => Math.sin(j) * 2)),
        tokens: hostTensor('i32', [B], Int32Array.from({ length: B }, (_, j) => (j * 7919) % 128256)),
      };
      ex.run(inputs);
      const ms: number[] = [];
      for (let r = 0; r < 50; r++) { timer.start(); ex.enqueue({ B }, { graph: true }); timer.stop(); ms.push(timer.elapsedMs()); }
      console.log(`${model} ${name} B=${B}: ${median(ms).toFixed(3)} ms`);
      if (prof.has(B) && name === 'default' || process.env.AB_PROF_ALL) {
        const t = ex.profile({ B }, 20);
        for (const x of t) console.log(`   ${x.kernel.padEnd(30)} ${JSON.stringify(x.grid)} ${x.ms.toFixed(4)}`);
      }
    }
    timer.destroy(); ex.close();
  }
}
