// GPU gate for arcticc train: the compiled training step (loss and every weight gradient of the LSTM and
// MLP training forms, fixture shapes) on CUDA against the CPU interpreter. Prints JSON; exit 1 on a mismatch.
//   node bench/train-gpu-check.ts [--rows 512]
import { trainingForm } from '../compiler/autodiff/training-form.ts';
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import { lstmSpeculator } from '../speculators/lstm.ts';
import { mlpSpeculator } from '../speculators/mlp.ts';
import { initWeights, paramShapes } from '../runtime/train/arch.ts';
import { stepRunner } from '../runtime/train/trainer.ts';
import { Xoshiro128 } from '../runtime/decoding/rng.ts';

const rows = Number(process.argv[process.argv.indexOf('--rows') + 1] || 512);
const o = { hiddenSize: 256, width: 256, vocabSize: 4096, nPredict: 3, scaleInput: true, weightDtype: () => 'f32' as const };
const report: Record<string, unknown>[] = [];
let ok = true;
for (const [name, p] of [['lstm', lstmSpeculator(o)], ['mlp', mlpSpeculator({ ...o, tieWeights: true })]] as const) {
  const r = new Xoshiro128(1);
  const w = initWeights(paramShapes(p), 3);
  const weights = new Map([...w].map(([n, a]) => [n, hostTensor('f32', paramShapes(p).get(n)!, a)]));
  const inputs = {
    hidden: hostTensor('f32', [rows, 256], Float32Array.from({ length: rows * 256 }, () => 2 * r.next() - 1)),
    tokens: hostTensor('i32', [rows], Int32Array.from({ length: rows }, () => Math.floor(r.next() * 4096))),
    labels: hostTensor('i32', [rows, 3], Int32Array.from({ length: rows * 3 }, () => Math.floor(r.next() * 4096))),
  };
  const cpuTf = trainingForm(p.graph, { rows });
  const gpuTf = trainingForm(p.graph, { rows, paramsAsInputs: true });
  const cpu = await stepRunner(cpuTf, 'cpu');
  const gpu = await stepRunner(gpuTf, 'cuda');
  const a = await cpu.run(inputs, weights);
  const t0 = performance.now();
  const b = await gpu.run(inputs, weights);
  const first = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < 5; i++) await gpu.run(inputs, weights);
  const stepMs = (performance.now() - t1) / 5;
  gpu.close();
  let worst = 0, worstName = '';
  for (const q of cpuTf.params) {
    const x = a[q.output].data as Float32Array, y = b[q.output].data as Float32Array;
    let num = 0, den = 0;
    for (let i = 0; i < x.length; i++) { num += (x[i] - y[i]) ** 2; den += x[i] ** 2; }
    const rel = Math.sqrt(num / Math.max(den, 1e-30));
    if (rel > worst) { worst = rel; worstName = q.name; }
  }
  const lossA = Number(a.loss.data[0]), lossB = Number(b.loss.data[0]);
  const pass = Math.abs(lossA - lossB) <= 1e-3 * Math.abs(lossA) && worst < 1e-3;
  ok &&= pass;
  report.push({ name, rows, loss_cpu: lossA, loss_gpu: lossB, worst_grad_rel_l2: worst, worst_grad: worstName, first_step_ms: first, step_ms: stepMs, rows_per_second: rows / (stepMs / 1000), pass });
}
console.log(JSON.stringify(report, null, 1));
process.exit(ok ? 0 : 1);
