// The compiled training step on the GPU against the interpreter, on fresh random inputs: the LSTM and MLP
// training forms at 320 rows (the many-row linears, dX/dW GEMMs with the transposed operand read in place,
// and the scatter-add embedding gradient all take their kernels) in the default CUDA-core GEMM mode and the
// tensor-core tf32x3 mode (loss, every weight gradient: relative L2 < 1e-3), and three device-AdamW steps
// against the host optimizer on the same batches (weights relative L2 < 1e-4). bench/train-gpu-check.ts
// times the same at the training batch.
import { expect, it } from 'vitest';
import { trainingForm } from '../../compiler/autodiff/training-form.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { initWeights, paramShapes } from '../../runtime/train/arch.ts';
import { DEFAULT_ADAMW, optimizerSlots } from '../../runtime/train/optimizer.ts';
import { cpuStepper, cudaStepper, gradientRunner } from '../../runtime/train/stepper.ts';
import { randomTrainBatch, relL2, TRAIN_DRAFTERS } from '../support/train-check.ts';
import { describeGpuCompiled, freshSeed, rng } from './gpu-env.ts';

describeGpuCompiled('training step on the GPU vs the interpreter', () => {
  const seed = freshSeed();
  const r = rng(seed);
  const batch = (n: number) => randomTrainBatch(r, n);
  for (const [name, build] of TRAIN_DRAFTERS) {
    it(`${name}: gradients in both GEMM modes, and three device-AdamW steps (seed ${seed})`, async () => {
      const p = build();
      const shapes = paramShapes(p);
      const w = initWeights(shapes, 3);
      const weights = new Map([...w].map(([n, a]) => [n, hostTensor('f32', shapes.get(n)!, a)]));
      const tf = trainingForm(p.graph, { rows: 320, hiddenDtype: 'bf16' });
      const inputs = batch(320);
      const want = await (await gradientRunner(tf, 'cpu', weights)).run(inputs);
      for (const mode of ['fma', 'tf32x3']) {
        process.env.ARCTICC_GEMM = mode;
        try {
          const gpu = await gradientRunner(tf, 'cuda', weights);
          const got = await gpu.run(inputs);
          gpu.close();
          expect(Math.abs(Number(got.loss.data[0]) - Number(want.loss.data[0])), `${mode} loss`).toBeLessThan(1e-3 * Math.abs(Number(want.loss.data[0])));
          for (const q of tf.params) expect(relL2(want[q.output].data as Float32Array, got[q.output].data as Float32Array), `${mode} ${q.name}`).toBeLessThan(1e-3);
        } finally { delete process.env.ARCTICC_GEMM; }
      }
      const small = trainingForm(p.graph, { rows: 64, hiddenDtype: 'bf16' });
      const opt = { ...DEFAULT_ADAMW, totalSteps: 3 };
      const cpu = cpuStepper(small, optimizerSlots(small.params, w), opt), cuda = await cudaStepper(small, optimizerSlots(small.params, w), opt);
      try {
        for (let t = 1; t <= 3; t++) { const b = batch(64); await cpu.step(b, t); await cuda.step(b, t); }
        const after = new Map(cuda.state().map((x) => [x.name, x]));
        for (const x of cpu.state()) expect(relL2(x.param, after.get(x.name)!.param), x.name).toBeLessThan(1e-4);
      } finally { cuda.close(); }
    }, 180_000);
  }
});
