// GPU gate for arcticc train, LSTM and MLP training forms at the fixture's shapes, CUDA against the CPU:
// 1. one forward + backward (loss and every weight gradient) against the interpreter;
// 2. three optimizer steps (device AdamW, weights on the device) against the CPU stepper (interpreter
//    + host AdamW) on the same batches: the weights after;
// 3. the time of a whole training step (upload, forward, backward, AdamW) at --rows and at --big-rows
//    (32 sequences of 253 rows, the default training batch), and at --big-rows with each GEMM mode
//    (fma: CUDA cores, the default; tf32x3: tensor cores, f32-accurate; tf32: one term), with the gradients of one
//    batch at --rows against the interpreter for each mode (relative L2 reported; only fma and tf32x3 gate).
// Prints JSON; exit 1 on a mismatch.   node bench/train-gpu-check.ts [--rows 320] [--opt-rows 64] [--big-rows 8096]
// (--rows ≥ 256 so the many-row linears take the tiled GEMM too, as they do at the training batch)
import { trainingForm } from '../compiler/autodiff/training-form.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import { initWeights, paramShapes } from '../runtime/train/arch.ts';
import { DEFAULT_ADAMW, optimizerSlots } from '../runtime/train/optimizer.ts';
import { cpuStepper, cudaStepper, gradientRunner } from '../runtime/train/stepper.ts';
import { Xoshiro128 } from '../runtime/decoding/rng.ts';
import { randomTrainBatch, relL2, TRAIN_DRAFTERS } from '../tests/support/train-check.ts';

const arg = (k: string, d: number): number => (process.argv.includes(k) ? Number(process.argv[process.argv.indexOf(k) + 1]) : d);
const rows = arg('--rows', 320), optRows = arg('--opt-rows', 64), bigRows = arg('--big-rows', 8096);

const report: Record<string, unknown>[] = [];
let ok = true;
for (const [name, build] of TRAIN_DRAFTERS) {
  const p = build();
  const shapes = paramShapes(p);
  const w = initWeights(shapes, 3);
  const weights = new Map([...w].map(([n, a]) => [n, hostTensor('f32', shapes.get(n)!, a)]));
  const r = new Xoshiro128(1);
  const next = (): number => r.next();
  const tf = trainingForm(p.graph, { rows, hiddenDtype: 'bf16' });
  // 1. gradients
  const inputs = randomTrainBatch(next, rows);
  const cpu = await gradientRunner(tf, 'cpu', weights), gpu = await gradientRunner(tf, 'cuda', weights);
  const a = await cpu.run(inputs), b = await gpu.run(inputs);
  gpu.close();
  let worst = 0, worstName = '';
  for (const q of tf.params) {
    const rel = relL2(a[q.output].data as Float32Array, b[q.output].data as Float32Array);
    if (rel > worst) { worst = rel; worstName = q.name; }
  }
  const lossA = Number(a.loss.data[0]), lossB = Number(b.loss.data[0]);
  // 2. three optimizer steps on each backend
  const opt = { ...DEFAULT_ADAMW, totalSteps: 3 };
  const tfOpt = trainingForm(p.graph, { rows: optRows, hiddenDtype: 'bf16' });
  const cs = cpuStepper(tfOpt, optimizerSlots(tfOpt.params, w), opt), gs = await cudaStepper(tfOpt, optimizerSlots(tfOpt.params, w), opt);
  const steps = [randomTrainBatch(next, optRows), randomTrainBatch(next, optRows), randomTrainBatch(next, optRows)];
  const lossesCpu: number[] = [], lossesGpu: number[] = [];
  for (let t = 1; t <= 3; t++) { lossesCpu.push((await cs.step(steps[t - 1], t)).loss); lossesGpu.push((await gs.step(steps[t - 1], t)).loss); }
  const after = new Map(gs.state().map((x) => [x.name, x]));
  let worstW = 0, worstWName = '';
  for (const x of cs.state()) { const rel = relL2(x.param, after.get(x.name)!.param); if (rel > worstW) { worstW = rel; worstWName = x.name; } }
  gs.close();
  // 3. whole steps, timed, at both sizes
  const timed: Record<string, number> = {};
  for (const n of [rows, bigRows]) {
    const tfn = n === rows ? tf : trainingForm(p.graph, { rows: n, hiddenDtype: 'bf16' });
    const st = await cudaStepper(tfn, optimizerSlots(tfn.params, w), { ...DEFAULT_ADAMW, totalSteps: 100 });
    const bt = randomTrainBatch(next, n);
    const t0 = performance.now();
    await st.step(bt, 1);
    timed[`first_step_ms_${n}`] = performance.now() - t0;
    const t1 = performance.now();
    for (let t = 2; t <= 11; t++) await st.step(bt, t);
    timed[`step_ms_${n}`] = (performance.now() - t1) / 10;
    timed[`rows_per_second_${n}`] = n / (timed[`step_ms_${n}`] / 1000);
    st.close();
  }
  // 4. each GEMM mode: gradients at --rows against the interpreter; at --big-rows (the timed shape, too
  //    big for the interpreter here) against the CUDA-core mode's, an independent second path; step time
  const modes: Record<string, Record<string, unknown>> = {};
  const tfBig = trainingForm(p.graph, { rows: bigRows, hiddenDtype: 'bf16' });
  const bigBatch = randomTrainBatch(next, bigRows);
  let fmaBig: Record<string, HostTensor> | null = null;
  for (const mode of ['fma', 'tf32x3', 'tf32']) {
    process.env.ARCTICC_GEMM = mode;
    try {
      const gm = await gradientRunner(tf, 'cuda', weights);
      const bm = await gm.run(inputs);
      gm.close();
      let w2 = 0;
      for (const q of tf.params) w2 = Math.max(w2, relL2(a[q.output].data as Float32Array, bm[q.output].data as Float32Array));
      const gb = await gradientRunner(tfBig, 'cuda', weights);
      const big = await gb.run(bigBatch);
      gb.close();
      let wb = 0;
      if (fmaBig) for (const q of tfBig.params) wb = Math.max(wb, relL2(fmaBig[q.output].data as Float32Array, big[q.output].data as Float32Array));
      else fmaBig = big;
      const st = await cudaStepper(tfBig, optimizerSlots(tfBig.params, w), { ...DEFAULT_ADAMW, totalSteps: 100 });
      await st.step(bigBatch, 1);
      const t1 = performance.now();
      for (let t = 2; t <= 11; t++) await st.step(bigBatch, t);
      const ms = (performance.now() - t1) / 10;
      st.close();
      modes[mode] = { worst_grad_rel_l2_vs_interpreter: w2, [`worst_grad_rel_l2_vs_fma_at_${bigRows}`]: wb, [`step_ms_${bigRows}`]: ms };
      if (mode !== 'tf32' && (w2 >= 1e-3 || wb >= 1e-4)) modes[mode].fail = true;
    } finally { delete process.env.ARCTICC_GEMM; }
  }
  const modesOk = Object.values(modes).every((m) => !m.fail);
  const pass = modesOk && Math.abs(lossA - lossB) <= 1e-3 * Math.abs(lossA) && worst < 1e-3 && worstW < 1e-4
    && lossesGpu.every((l, i) => Math.abs(l - lossesCpu[i]) <= 1e-3 * Math.abs(lossesCpu[i]));
  ok &&= pass;
  report.push({ name, rows, opt_rows: optRows, loss_cpu: lossA, loss_gpu: lossB, worst_grad_rel_l2: worst, worst_grad: worstName, losses_cpu_3_steps: lossesCpu, losses_gpu_3_steps: lossesGpu, worst_weight_rel_l2_after_3_steps: worstW, worst_weight: worstWName, ...timed, gemm_modes: modes, pass });
}
console.log(JSON.stringify(report, null, 1));
process.exit(ok ? 0 : 1);
