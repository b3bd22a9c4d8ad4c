// From a checkpoint's config to the DSL program that computes its proposals.
import type { FloatDType } from '../compiler/ir/dtype.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import type { Program } from '../dsl/index.ts';
import { lstmSpeculator } from '../speculators/lstm.ts';
import { mlpSpeculator } from '../speculators/mlp.ts';
import type { SpeculatorConfig } from './checkpoint/index.ts';

/** Build the program for a config; weight dtypes follow the loaded tensors (bf16, f16 or f32). */
export function programFor(config: SpeculatorConfig, weights?: ReadonlyMap<string, HostTensor>): Program {
  const weightDtype = (name: string): FloatDType => (weights?.get(name)?.dtype as FloatDType | undefined) ?? 'bf16';
  const shape = {
    hiddenSize: config.hiddenSize, width: config.width, vocabSize: config.vocabSize,
    nPredict: config.nPredict, scaleInput: config.scaleInput, weightDtype,
  };
  return config.kind === 'lstm' ? lstmSpeculator(shape) : mlpSpeculator({ ...shape, tieWeights: config.tieWeights });
}
