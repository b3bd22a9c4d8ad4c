// One optimizer step of a training form, on either backend. The CPU stepper interprets the gradient
// graph and runs AdamW on the host (runtime/train/optimizer.ts), bit for bit reproducible, which is what
// CI's resume test relies on. The CUDA stepper compiles the same graph through compileProgram: the
// f32 master weights are the plan's param buffers (uploaded once), the gradients stay in its output
// buffers, and AdamW runs on the device in place (device-optimizer.ts); per step only the batch goes up
// and the loss comes back.
import type { TrainingForm } from '../../compiler/autodiff/training-form.ts';
import { interpret } from '../../compiler/ir/interp.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { GemmMode } from '../../compiler/codegen/ptx/kernel-gemm.ts';
import type { AdamWOptions, OptimizerSlot } from './optimizer.ts';
import { adamwStep } from './optimizer.ts';

export interface StepOutcome {
  readonly loss: number;
  readonly lossHeads: number[];
  /** the pre-clip gradient norm: of this step on the CPU, of the previous step on CUDA (read without a sync) */
  readonly gradNorm: number;
  readonly lr: number;
}

export interface WeightsAndMoments {
  readonly name: string;
  readonly param: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly decay: boolean;
}

export interface TrainStepper {
  /** Runs step t (1-based) on a batch (hidden, tokens, labels as the training form names them). */
  step(batch: Readonly<Record<string, HostTensor>>, t: number): Promise<StepOutcome>;
  /** The master weights and moments now (downloads on CUDA). */
  state(): WeightsAndMoments[];
  close(): void;
}

/** The slots' master weights as the training form's params (views: the same arrays AdamW updates). */
const slotWeights = (tf: TrainingForm, slots: readonly OptimizerSlot[]): Map<string, HostTensor> =>
  new Map(slots.map((s, i) => [s.name, hostTensor('f32', tf.params[i].shape, s.param)]));

/** The training form compiled for CUDA and loaded with `weights`: the device reference, plan and executor. */
async function openCudaPlan(tf: TrainingForm, weights: ReadonlyMap<string, HostTensor>, gemm?: GemmMode) {
  const { compileProgram } = await import('../../compiler/compile.ts');
  const { openDevice } = await import('../cuda/device.ts');
  const { PlanExecutor } = await import('../cuda/executor.ts');
  const plan = compileProgram(tf.graph, { maxDims: {}, ...(gemm ? { gemm } : {}) });
  const dev = openDevice({});
  try {
    return { dev, plan, exec: new PlanExecutor(dev, plan, weights, { graphs: true }) };
  } catch (e) { dev.release(); throw e; }
}

export function cpuStepper(tf: TrainingForm, slots: readonly OptimizerSlot[], opt: AdamWOptions): TrainStepper {
  const weights = slotWeights(tf, slots);
  return {
    async step(batch, t) {
      const out = interpret(tf.graph, batch, weights);
      const { norm, lr } = adamwStep(slots, tf.params.map((p) => out[p.output].data as Float32Array), t, opt);
      return { loss: Number(out.loss.data[0]), lossHeads: Array.from(out.loss_heads.data as Float32Array), gradNorm: norm, lr };
    },
    state: () => slots.map((s) => ({ ...s })),
    close() {},
  };
}

/** `gemm`: the tiled GEMM's arithmetic (default: $ARCTICC_GEMM, else tf32x3; kernel-gemm.ts) */
export async function cudaStepper(tf: TrainingForm, slots: readonly OptimizerSlot[], opt: AdamWOptions, gemm?: GemmMode): Promise<TrainStepper> {
  const { DeviceAdamW } = await import('./device-optimizer.ts');
  const { learningRate } = await import('./optimizer.ts');
  const { dev, plan, exec } = await openCudaPlan(tf, slotWeights(tf, slots), gemm);
  let adam: InstanceType<typeof DeviceAdamW> | undefined;
  try {
    const paramBuf = (name: string): bigint => {
      const b = plan.buffers.find((x) => x.kind === 'param' && x.name === name);
      if (!b) throw new Error(`training plan ${plan.name}: no param buffer for ${name}`);
      return exec.address(b.id);
    };
    const gradBuf = (output: string): bigint => {
      const o = plan.outputs.find((x) => x.name === output);
      if (!o) throw new Error(`training plan ${plan.name}: no output ${output}`);
      return exec.address(o.buffer);
    };
    adam = new DeviceAdamW(dev, slots.map((s, i) => ({ name: s.name, elements: s.param.length, param: paramBuf(s.name), grad: gradBuf(tf.params[i].output), decay: s.decay })));
    if (slots.some((s) => s.m.some((x) => x !== 0) || s.v.some((x) => x !== 0))) adam.writeMoments(slots);
  } catch (e) {
    try { adam?.close(); exec.close(); } finally { dev.release(); }
    throw e;
  }
  const ad = adam;
  return {
    async step(batch, t) {
      const out = await exec.runAsync(batch, { outputs: ['loss', 'loss_heads'] });
      // after the gradients, before the next step's plan: stream order does the rest
      ad.enqueue(opt, t);
      return { loss: Number(out.loss.data[0]), lossHeads: Array.from(out.loss_heads.data as Float32Array), gradNorm: ad.lastNorm, lr: learningRate(opt, t) };
    },
    state() {
      const got = ad.read();
      return slots.map((s, i) => ({ name: s.name, decay: s.decay, ...got[i] }));
    },
    close() { try { ad.close(); exec.close(); } finally { dev.release(); } },
  };
}

/** Forward and backward only (no update): the gradients of one batch, for checking CUDA against the interpreter. */
export async function gradientRunner(tf: TrainingForm, device: 'cpu' | 'cuda', weights: ReadonlyMap<string, HostTensor>): Promise<{ run(batch: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>; close(): void }> {
  if (device === 'cpu') return { run: async (batch) => interpret(tf.graph, batch, weights), close() {} };
  const { dev, exec } = await openCudaPlan(tf, weights);
  return { run: (batch) => exec.runAsync(batch), close() { try { exec.close(); } finally { dev.release(); } } };
}
