// Per-launch profile of a compiled plan on the GPU: every launch timed between two events (eager, median
// of --reps), listed by time and grouped by kernel kind, beside one CUDA-graph replay of the same plan.
//   node bench/profile-plan.ts train-lstm|train-mlp [--rows 8096]      one training step (fwd + bwd)
//   node bench/profile-plan.ts target [--model DIR] [--tokens 1]       one decode step of a target
//   node bench/profile-plan.ts draft [--model DIR] [--rows 1]          one draft of an Arctic speculator
//                                                                      (default the fixture's LSTM; the plan compileSpeculator emits)
//   options: --reps 20  --top 25  --json
import { parseArgs } from 'node:util';
import { trainingForm } from '../compiler/autodiff/training-form.ts';
import { compileProgram } from '../compiler/compile.ts';
import { lowerSpeculator } from '../runtime/compile-speculator.ts';
import { loadCheckpoint } from '../runtime/checkpoint/load.ts';
import { fuseGateWeights } from '../runtime/gate-weights.ts';
import { programFor } from '../runtime/speculator-program.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import { loadLlamaCheckpoint, readLlamaConfig } from '../runtime/checkpoint/load-llama.ts';
import { openDevice } from '../runtime/cuda/device.ts';
import { PlanExecutor } from '../runtime/cuda/executor.ts';
import { EventTimer } from '../runtime/cuda/graph.ts';
import { byKind } from '../runtime/cuda/launch-profile.ts';
import { Xoshiro128 } from '../runtime/decoding/rng.ts';
import { addRopeTables, targetProgram } from '../runtime/target/target-program.ts';
import { initWeights, paramShapes } from '../runtime/train/arch.ts';
import { randomTrainBatch, TRAIN_DRAFTERS } from '../tests/support/train-check.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    rows: { type: 'string', default: '8096' }, model: { type: 'string', default: 'tests/fixtures/target/pycode-small' },
    tokens: { type: 'string', default: '1' }, reps: { type: 'string', default: '20' }, top: { type: 'string', default: '25' },
    json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
  },
});
const subject = positionals[0];
if (values.help || !subject || !/^(train-lstm|train-mlp|target|draft)$/.test(subject)) {
  console.error('usage: node bench/profile-plan.ts train-lstm|train-mlp [--rows 8096] | target [--model DIR] [--tokens 1] | draft [--model DIR] [--rows 1]  [--reps 20] [--top 25] [--json]');
  process.exit(values.help ? 0 : 2);
}
const reps = Number(values.reps);

function subjectPlan(): { graph: Parameters<typeof compileProgram>[0]; maxDims: Record<string, number>; weights: Map<string, HostTensor>; inputs: Record<string, HostTensor>; label: string } {
  if (subject === 'target') {
    const n = Number(values.tokens);
    const { config } = readLlamaConfig(values.model!);
    const weights = loadLlamaCheckpoint(values.model!, { quiet: true }).weights;
    const maxLen = 512;
    addRopeTables(weights, config, maxLen);
    const program = targetProgram(config, weights, { slots: 4, maxLen, head: 'both' });
    // n decode rows of one request at positions 100…: the cache holds zeros there, which costs the same
    const i32 = (a: number[]): HostTensor => hostTensor('i32', [a.length], Int32Array.from(a));
    const pos = Array.from({ length: n }, (_, i) => 100 + i);
    return {
      graph: program.graph, maxDims: { N: Math.max(n, 1), M: Math.max(n, 1) }, weights, label: `${values.model} decode, ${n} token row(s)`,
      inputs: { tokens: i32(pos.map((p) => p % config.vocabSize)), positions: i32(pos), slots: i32(pos.map(() => 0)), rows: i32(pos.map((_, i) => i)) },
    };
  }
  const rows = Number(values.rows);
  if (subject === 'draft') {
    const dir = values.model === 'tests/fixtures/target/pycode-small' ? 'tests/fixtures/target/pycode-small-lstm' : values.model!;
    const ckpt = loadCheckpoint(dir, { quiet: true });
    const traced = programFor(ckpt.config, ckpt.weights);
    const gates = fuseGateWeights(traced.graph, ckpt.weights);
    const H = ckpt.config.hiddenSize;
    const r = new Xoshiro128(1);
    return {
      graph: lowerSpeculator(gates.graph), maxDims: { B: rows }, weights: gates.weights, label: `${dir} draft, ${rows} row(s)`,
      inputs: {
        hidden: hostTensor('f32', [rows, H], Float32Array.from({ length: rows * H }, () => r.next() * 2 - 1)),
        tokens: hostTensor('i32', [rows], Int32Array.from({ length: rows }, (_, i) => (i * 977) % ckpt.config.vocabSize)),
      },
    };
  }
  const build = TRAIN_DRAFTERS.find(([name]) => `train-${name}` === subject)![1];
  const p = build();
  const shapes = paramShapes(p);
  const w = initWeights(shapes, 3);
  const weights = new Map([...w].map(([k, a]) => [k, hostTensor('f32', shapes.get(k)!, a)]));
  const tf = trainingForm(p.graph, { rows, hiddenDtype: 'bf16' });
  const r = new Xoshiro128(1);
  return { graph: tf.graph, maxDims: {}, weights, inputs: randomTrainBatch(() => r.next(), rows), label: `${subject} step, ${rows} rows (forward + backward, no AdamW)` };
}

const s = subjectPlan();
const plan = compileProgram(s.graph, { maxDims: s.maxDims });
const dev = openDevice({});
const exec = new PlanExecutor(dev, plan, s.weights, { graphs: true });
try {
  exec.run(s.inputs);
  const dims = Object.fromEntries(Object.entries(s.maxDims));
  const t = exec.profile(dims, reps);
  // one graph replay of the same launches for comparison (median of reps)
  const timer = new EventTimer(dev);
  const replays: number[] = [];
  exec.enqueue(dims);
  for (let i = 0; i < reps; i++) { timer.start(); exec.enqueue(dims); timer.stop(); replays.push(timer.elapsedMs()); }
  timer.destroy();
  replays.sort((a, b) => a - b);
  const replayMs = replays[replays.length >> 1];
  const sum = t.reduce((a, x) => a + x.ms, 0);
  const kinds = byKind(t);
  // what each launch touches: its buffer arguments as dtype[shape] (name where the buffer has one)
  const buffers = new Map(plan.buffers.map((b) => [b.id, `${b.name ? b.name + ':' : ''}${b.dtype}[${b.shape.join(',')}]`]));
  const touches = (i: number): string => plan.launches[i].args.flatMap((a) => ('buffer' in a ? [buffers.get(a.buffer) ?? a.buffer] : [])).join(' ');
  const report = { device: dev.description, subject: s.label, plan: plan.name, launches: t.length, reps, eagerSumMs: sum, graphReplayMs: replayMs, byKind: kinds, launchesByTime: [...t].sort((a, b) => b.ms - a.ms).map((x) => ({ ...x, touches: touches(x.index) })) };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(`${s.label} on ${dev.description}: ${t.length} launches, eager sum ${sum.toFixed(3)} ms, graph replay ${replayMs.toFixed(3)} ms`);
    for (const k of kinds) console.log(`  ${k.kind.padEnd(22)} ${String(k.launches).padStart(4)} launches ${k.ms.toFixed(3).padStart(8)} ms ${(100 * k.ms / sum).toFixed(1).padStart(5)} %`);
    for (const x of report.launchesByTime.slice(0, Number(values.top))) console.log(`  #${String(x.index).padStart(3)} ${x.kernel.padEnd(28)} grid [${x.grid}] block [${x.block}] ${x.ms.toFixed(4)} ms  ${x.touches}`);
  }
} finally {
  exec.close();
  dev.release();
}
