// From a checkpoint's config to the DSL program that computes its proposals.
import type { FloatDType } from '../compiler/ir/dtype.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import type { Program } from '../dsl/index.ts';
import { lstmSpeculator } from '../speculators/lstm.ts';
import type { MlpOptions } from '../speculators/mlp.ts';
import { mlpSpeculator } from '../speculators/mlp.ts';
import type { SpeculatorConfig } from './checkpoint/index.ts';

/** The sizes and flags a speculator program (built-in or user-written) is traced with. */
export function speculatorShape(config: SpeculatorConfig, weightDtype: (name: string) => FloatDType = () => 'bf16'): MlpOptions {
  return {
    hiddenSize: config.hiddenSize, width: config.width, vocabSize: config.vocabSize,
    nPredict: config.nPredict, scaleInput: config.scaleInput, tieWeights: config.tieWeights, weightDtype,
  };
}

/** The built-in program for a config, with each weight's storage dtype given by `weightDtype`. */
export function buildSpeculator(config: SpeculatorConfig, weightDtype?: (name: string) => FloatDType): Program {
  const shape = speculatorShape(config, weightDtype);
  return config.kind === 'lstm' ? lstmSpeculator(shape) : mlpSpeculator(shape);
}

/** Build the program for a config; weight dtypes follow the loaded tensors (bf16, f16 or f32). */
export function programFor(config: SpeculatorConfig, weights?: ReadonlyMap<string, HostTensor>): Program {
  return buildSpeculator(config, (name) => (weights?.get(name)?.dtype as FloatDType | undefined) ?? 'bf16');
}
