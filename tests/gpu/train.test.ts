// The compiled training step on the GPU against the interpreter, on fresh random inputs: the LSTM and MLP
// training forms at 320 rows (the many-row linears, dX/dW GEMMs with the transposed operand read in place,
// and the scatter-add embedding gradient all take their kernels) in the default CUDA-core GEMM mode and the
// tensor-core tf32x3 mode (loss, every weight gradient: relative L2 < 1e-3), and three device-AdamW steps
// against the host optimizer on the same batches (weights relative L2 < 1e-4). bench/train-gpu-check.ts
// times the same at the training batch.
import { expect, it } from 'vitest';
import { trainingForm } from '../../compiler/autodiff/training-form.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { f32ToBf16 } from '../../compiler/ir/numerics.ts';
import { initWeights, paramShapes } from '../../runtime/train/arch.ts';
import type { OptimizerSlot } from '../../runtime/train/optimizer.ts';
import { DEFAULT_ADAMW } from '../../runtime/train/optimizer.ts';
import { cpuStepper, cudaStepper, gradientRunner } from '../../runtime/train/stepper.ts';
import { lstmSpeculator } from '../../speculators/lstm.ts';
import { mlpSpeculator } from '../../speculators/mlp.ts';
import { describeGpuCompiled, freshSeed, rng } from './gpu-env.ts';

const O = { hiddenSize: 256, width: 256, vocabSize: 4096, nPredict: 3, scaleInput: true, weightDtype: () => 'f32' as const };
const relL2 = (x: Float32Array, y: Float32Array): number => {
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) { num += (x[i] - y[i]) ** 2; den += x[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-30));
};

describeGpuCompiled('training step on the GPU vs the interpreter', () => {
  const seed = freshSeed();
  const r = rng(seed);
  const batch = (n: number): Record<string, HostTensor> => ({
    hidden: hostTensor('bf16', [n, 256], Uint16Array.from({ length: n * 256 }, () => f32ToBf16(2 * r() - 1))),
    tokens: hostTensor('i32', [n], Int32Array.from({ length: n }, () => Math.floor(r() * 4096))),
    labels: hostTensor('i32', [n, 3], Int32Array.from({ length: n * 3 }, () => Math.floor(r() * 4096))),
  });
  for (const [name, build] of [['lstm', () => lstmSpeculator(O)], ['mlp', () => mlpSpeculator({ ...O, tieWeights: true })]] as const) {
    it(`${name}: gradients in both GEMM modes, and three device-AdamW steps (seed ${seed})`, async () => {
      const p = build();
      const shapes = paramShapes(p);
      const w = initWeights(shapes, 3);
      const weights = new Map([...w].map(([n, a]) => [n, hostTensor('f32', shapes.get(n)!, a)]));
      const tf = trainingForm(p.graph, { rows: 320, hiddenDtype: 'bf16' });
      const inputs = batch(320);
      const want = await (await gradientRunner(tf, 'cpu', weights)).run(inputs);
      for (const mode of ['fma', 'tf32x3']) {
        if (mode !== 'fma') process.env.ARCTICC_GEMM = mode;
        try {
          const gpu = await gradientRunner(tf, 'cuda', weights);
          const got = await gpu.run(inputs);
          gpu.close();
          expect(Math.abs(Number(got.loss.data[0]) - Number(want.loss.data[0])), `${mode} loss`).toBeLessThan(1e-3 * Math.abs(Number(want.loss.data[0])));
          for (const q of tf.params) expect(relL2(want[q.output].data as Float32Array, got[q.output].data as Float32Array), `${mode} ${q.name}`).toBeLessThan(1e-3);
        } finally { delete process.env.ARCTICC_GEMM; }
      }
      const small = trainingForm(p.graph, { rows: 64, hiddenDtype: 'bf16' });
      const slots = (): OptimizerSlot[] => [...shapes.keys()].sort().map((n) => ({ name: n, param: Float32Array.from(w.get(n)!), m: new Float32Array(w.get(n)!.length), v: new Float32Array(w.get(n)!.length), decay: shapes.get(n)!.length > 1 }));
      const opt = { ...DEFAULT_ADAMW, totalSteps: 3 };
      const cpu = cpuStepper(small, slots(), opt), cuda = await cudaStepper(small, slots(), opt);
      try {
        for (let t = 1; t <= 3; t++) { const b = batch(64); await cpu.step(b, t); await cuda.step(b, t); }
        const after = new Map(cuda.state().map((x) => [x.name, x]));
        for (const x of cpu.state()) expect(relL2(x.param, after.get(x.name)!.param), x.name).toBeLessThan(1e-4);
      } finally { cuda.close(); }
    }, 180_000);
  }
});
