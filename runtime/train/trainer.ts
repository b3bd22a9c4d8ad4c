// The training loop: the drafter's teacher-forced training form (compiler/autodiff) run per step on the
// CPU interpreter or compiled through compileProgram for CUDA (stepper.ts: AdamW on f32 master weights,
// on the host or on the device), a checkpoint every N steps (weights and both moments as f32, so a resume
// continues bit for bit on the CPU; the data order is a function of the seed and the step), and the bf16
// export in ArcticTraining's format. The next batch is filled on the host while the device runs a step.
import fs from 'node:fs';
import path from 'node:path';
import { trainingForm } from '../../compiler/autodiff/training-form.ts';
import type { TrainingForm } from '../../compiler/autodiff/training-form.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { readSafetensors } from '../checkpoint/safetensors.ts';
import { safetensorsEntry, writeSafetensors } from '../checkpoint/safetensors-write.ts';
import { Xoshiro128 } from '../decoding/rng.ts';
import type { Arch } from './arch.ts';
import { initWeights, paramShapes } from './arch.ts';
import type { Batch, LabelSource, TrainData } from './data.ts';
import { fillBatch, rowsPerSequence, TrainDataError } from './data.ts';
import type { AdamWOptions } from './optimizer.ts';
import { DEFAULT_ADAMW, optimizerSlots } from './optimizer.ts';
import type { TrainStepper, WeightsAndMoments } from './stepper.ts';
import type { GemmMode } from '../../compiler/codegen/ptx/kernel-gemm.ts';
import { cpuStepper, cudaStepper } from './stepper.ts';

export interface TrainLoopOptions {
  readonly arch: Arch;
  readonly data: TrainData;
  /** identity of the target (folder, sizes), checked on resume */
  readonly target: Readonly<Record<string, string | number>>;
  readonly out: string;
  readonly steps: number;
  /** sequences per step (rows = batch × positions per sequence) */
  readonly batch: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly checkpointEvery?: number;
  readonly resume?: string;
  readonly device?: 'cpu' | 'cuda';
  /** what the heads learn (default 'sampled', ArcticTraining's recipe) */
  readonly labels?: LabelSource;
  readonly onStep?: (s: StepReport) => void;
  /** stop (checkpointed, no export) after this step, as an interrupted run would; for resume tests */
  readonly stopAfter?: number;
  /** CUDA: the tiled GEMM's arithmetic (fma: f32 FMAs, the default; tf32x3: tensor cores, f32-accurate; tf32: one term) */
  readonly gemm?: GemmMode;
}

export interface StepReport {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly lossHeads: number[];
  readonly lr: number;
  readonly gradNorm: number;
  readonly rowsPerSecond: number;
  readonly elapsedMs: number;
}

export interface TrainResult {
  readonly steps: number;
  readonly startStep: number;
  readonly losses: number[];
  readonly lossHeads: number[][];
  readonly trainMs: number;
  readonly rowsPerSecond: number;
  readonly exportDir: string;
  readonly checkpointDir: string;
  /**
   * where the training time went: filling batches on the host (overlapped with the device from the
   * second step on), waiting for a step after the fill, checkpoints
   */
  readonly split: { fillMs: number; waitMs: number; checkpointMs: number };
}

interface Meta {
  format: 'arcticc-train-state/1';
  arch: string;
  target: Record<string, string | number>;
  config: Record<string, unknown>;
  step: number;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  labels?: LabelSource;
  params: string[];
}

/** The sequences of step `s` (0-based): epochs are seeded permutations of every sequence. */
export function batchOf(count: number, batch: number, seed: number, s: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < batch; j++) {
    const g = s * batch + j;
    out.push(epochPermutation(count, seed, Math.floor(g / count))[g % count]);
  }
  return out;
}

// the last permutations made (a step reads one, two at an epoch boundary): 16k sequences would otherwise be
// shuffled again for every step
const perms = new Map<string, Int32Array>();
function epochPermutation(count: number, seed: number, epoch: number): Int32Array {
  const key = `${count}/${seed}/${epoch}`;
  let perm = perms.get(key);
  if (perm) return perm;
  const r = new Xoshiro128(seed, 0x5eed + epoch);
  perm = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) { const k = Math.floor(r.next() * (i + 1)); const t = perm[i]; perm[i] = perm[k]; perm[k] = t; }
  if (perms.size >= 2) perms.delete(perms.keys().next().value!);
  perms.set(key, perm);
  return perm;
}

/** Read and check a checkpoint folder against the run it should continue. */
export function readCheckpoint(dir: string, expect: { arch: string; target: Record<string, string | number>; config: Record<string, unknown> }): { meta: Meta; tensors: Map<string, HostTensor> } {
  const d = fs.existsSync(path.join(dir, 'checkpoint', 'train-state.json')) ? path.join(dir, 'checkpoint') : dir;
  const file = path.join(d, 'train-state.json');
  if (!fs.existsSync(file)) throw new TrainDataError(`--resume ${dir}: no train-state.json (neither ${dir} nor ${dir}/checkpoint is a training checkpoint)`);
  let meta: Meta;
  try { meta = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new TrainDataError(`${file}: corrupt (${(e as Error).message})`); }
  if (meta.format !== 'arcticc-train-state/1') throw new TrainDataError(`${file}: not an arcticc training checkpoint (format ${JSON.stringify(meta.format)})`);
  if (meta.arch !== expect.arch) throw new TrainDataError(`--resume ${dir}: the checkpoint trains --arch ${meta.arch}, this run asks for ${expect.arch}`);
  if (JSON.stringify(meta.target) !== JSON.stringify(expect.target)) throw new TrainDataError(`--resume ${dir}: the checkpoint was trained for target ${JSON.stringify(meta.target)}, this run's target is ${JSON.stringify(expect.target)}`);
  if (JSON.stringify(meta.config) !== JSON.stringify(expect.config)) throw new TrainDataError(`--resume ${dir}: the checkpoint's drafter config ${JSON.stringify(meta.config)} differs from this run's ${JSON.stringify(expect.config)} (--width / --n-predict)`);
  const tensors = readSafetensors(path.join(d, 'state.safetensors'));
  return { meta, tensors: tensors as Map<string, HostTensor> };
}

function writeCheckpoint(dir: string, meta: Meta, slots: readonly WeightsAndMoments[]): void {
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const t = (a: Float32Array): HostTensor => hostTensor('f32', [a.length], a);
  writeSafetensors(path.join(tmp, 'state.safetensors'), slots.flatMap((s) => [
    safetensorsEntry(`param:${s.name}`, t(s.param)), safetensorsEntry(`adam_m:${s.name}`, t(s.m)), safetensorsEntry(`adam_v:${s.name}`, t(s.v)),
  ]));
  fs.writeFileSync(path.join(tmp, 'train-state.json'), JSON.stringify(meta, null, 1));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}

export function exportSpeculator(dir: string, arch: Arch, weights: ReadonlyMap<string, Float32Array>): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors = arch.exportTensors(weights);
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors].sort(([a], [b]) => a.localeCompare(b)).map(([n, t]) => safetensorsEntry(n, t)));
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(arch.config, null, 2)}\n`);
}

export async function train(o: TrainLoopOptions): Promise<TrainResult> {
  const { arch, data } = o;
  const nPredict = (arch.config.n_predict as number);
  const seed = o.seed ?? 0;
  for (const [k, v] of [['--steps', o.steps], ['--batch', o.batch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TrainDataError(`${k} must be a positive integer, got ${v}`);
  }
  const lr = o.lr ?? DEFAULT_ADAMW.lr;
  if (!(lr > 0 && Number.isFinite(lr))) throw new TrainDataError(`--lr must be a positive number, got ${o.lr}`);
  const perSeq = rowsPerSequence(data, nPredict);
  if (perSeq < 1) throw new TrainDataError(`sequences of ${data.seqLen} tokens (prompt ${data.promptLen}) leave no training rows for n_predict ${nPredict}`);
  if (data.hiddenSize !== (arch.config.input_hidden_dim ?? arch.config.emb_dim ?? arch.config.hidden_size)) throw new TrainDataError(`data hidden size ${data.hiddenSize} does not match the drafter's`);
  const rows = o.batch * perSeq;
  const device = o.device ?? 'cpu';
  const labels = o.labels ?? 'sampled';
  const tf = trainingForm(arch.program.graph, { rows, hiddenDtype: 'bf16' });
  const shapes = paramShapes(arch.program);
  const names = tf.params.map((p) => p.name);
  // weights: fresh, or from the checkpoint being resumed
  let startStep = 0;
  let weights = initWeights(shapes, seed);
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  if (o.resume) {
    const { meta, tensors } = readCheckpoint(o.resume, { arch: arch.id, target: { ...o.target }, config: arch.config });
    if (meta.steps !== o.steps || meta.batch !== o.batch || meta.lr !== lr || meta.seed !== seed || (meta.labels ?? 'sampled') !== labels) {
      throw new TrainDataError(`--resume ${o.resume}: the checkpoint's run has --steps ${meta.steps} --batch ${meta.batch} --lr ${meta.lr} --labels ${meta.labels ?? 'sampled'} seed ${meta.seed}; resume with the same values (this run: ${o.steps}, ${o.batch}, ${lr}, ${labels}, ${seed})`);
    }
    weights = new Map();
    for (const n of names) {
      const get = (k: string): Float32Array => {
        const t = tensors.get(`${k}:${n}`);
        if (!t || t.dtype !== 'f32') throw new TrainDataError(`--resume ${o.resume}: state.safetensors lacks ${k}:${n}`);
        return Float32Array.from(t.data as Float32Array);
      };
      weights.set(n, get('param'));
      moments.set(n, { m: get('adam_m'), v: get('adam_v') });
    }
    startStep = meta.step;
  }
  const slots = optimizerSlots(tf.params, weights, moments);
  const opt: AdamWOptions = { ...DEFAULT_ADAMW, lr, totalSteps: o.steps };
  // two batches: the host fills one while the device runs a step on the other
  const batches = [0, 1].map(() => {
    const b: Batch = { hidden: new Uint16Array(rows * data.hiddenSize), tokens: new Int32Array(rows), labels: new Int32Array(rows * nPredict) };
    return { b, inputs: { hidden: hostTensor('bf16', [rows, data.hiddenSize], b.hidden), tokens: hostTensor('i32', [rows], b.tokens), labels: hostTensor('i32', [rows, nPredict], b.labels) } };
  });
  const meta = (step: number): Meta => ({
    format: 'arcticc-train-state/1', arch: arch.id, target: { ...o.target }, config: arch.config, step, steps: o.steps, batch: o.batch, lr, seed, labels, params: names,
  });
  const ckDir = path.join(o.out, 'checkpoint');
  const every = o.checkpointEvery ?? Math.max(1, Math.ceil(o.steps / 10));
  const stepper: TrainStepper = device === 'cuda' ? await cudaStepper(tf, slots, opt, o.gemm) : cpuStepper(tf, slots, opt);
  const losses: number[] = [], lossHeads: number[][] = [];
  const split = { fillMs: 0, waitMs: 0, checkpointMs: 0 };
  const fill = (s: number): void => {
    const t = performance.now();
    fillBatch(data, batchOf(data.count, o.batch, seed, s), nPredict, batches[s % 2].b, labels);
    split.fillMs += performance.now() - t;
  };
  let final: readonly WeightsAndMoments[] | undefined;
  const t0 = performance.now();
  try {
    if (startStep < o.steps) fill(startStep);
    for (let s = startStep; s < o.steps; s++) {
      const pending = stepper.step(batches[s % 2].inputs, s + 1);
      // let the step stage its inputs and start, then fill the next batch while the device runs
      await new Promise<void>((r) => setImmediate(r));
      const last = s + 1 === o.steps || s + 1 === o.stopAfter;
      if (!last) fill(s + 1);
      const tWait = performance.now();
      const r = await pending;
      split.waitMs += performance.now() - tWait;
      if (!Number.isFinite(r.loss)) throw new Error(`step ${s + 1}: the loss is ${r.loss}`);
      losses.push(r.loss); lossHeads.push(r.lossHeads);
      const el = performance.now() - t0;
      o.onStep?.({ step: s + 1, steps: o.steps, loss: r.loss, lossHeads: r.lossHeads, lr: r.lr, gradNorm: r.gradNorm, rowsPerSecond: ((s + 1 - startStep) * rows) / (el / 1000), elapsedMs: el });
      if ((s + 1) % every === 0 || last) {
        const tc = performance.now();
        final = stepper.state();
        writeCheckpoint(ckDir, meta(s + 1), final);
        split.checkpointMs += performance.now() - tc;
      }
      if (s + 1 === o.stopAfter) break;
    }
    final ??= stepper.state();
  } finally { stepper.close(); }
  const trainMs = performance.now() - t0;
  if (o.stopAfter === undefined || o.stopAfter >= o.steps) exportSpeculator(o.out, arch, new Map(final.map((x) => [x.name, x.param])));
  return {
    steps: o.steps, startStep, losses, lossHeads, trainMs,
    rowsPerSecond: ((losses.length) * rows) / Math.max(1e-9, trainMs / 1000), exportDir: o.out, checkpointDir: ckDir, split,
  };
}
