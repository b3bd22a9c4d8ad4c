// What the GPU training checks share (tests/gpu/train.test.ts, bench/train-gpu-check.ts): the fixture-shaped
// drafters, random training batches in the trainer's layout (bf16 hidden rows, token and label ids), and the
// relative L2 distance the gradients and weights are compared by.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { f32ToBf16 } from '../../compiler/ir/numerics.ts';
import type { Program } from '../../dsl/index.ts';
import { lstmSpeculator } from '../../speculators/lstm.ts';
import { mlpSpeculator } from '../../speculators/mlp.ts';

const O = { hiddenSize: 256, width: 256, vocabSize: 4096, nPredict: 3, scaleInput: true, weightDtype: () => 'f32' as const };

/** The LSTM and the tied MLP at pycode-small's shapes (H 256, V 4096, 3 heads), f32 weights as trained. */
export const TRAIN_DRAFTERS: readonly (readonly [string, () => Program])[] = [
  ['lstm', () => lstmSpeculator(O)], ['mlp', () => mlpSpeculator({ ...O, tieWeights: true })],
];

/** A random batch of n rows for those drafters; `next` draws uniform [0, 1). */
export function randomTrainBatch(next: () => number, n: number): Record<string, HostTensor> {
  const { hiddenSize: H, vocabSize: V, nPredict } = O;
  return {
    hidden: hostTensor('bf16', [n, H], Uint16Array.from({ length: n * H }, () => f32ToBf16(2 * next() - 1))),
    tokens: hostTensor('i32', [n], Int32Array.from({ length: n }, () => Math.floor(next() * V))),
    labels: hostTensor('i32', [n, nPredict], Int32Array.from({ length: n * nPredict }, () => Math.floor(next() * V))),
  };
}

/** ‖x − y‖ / ‖x‖ (f64 sums). */
export function relL2(x: Float32Array, y: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) { num += (x[i] - y[i]) ** 2; den += x[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
