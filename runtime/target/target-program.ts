// From a loaded Llama checkpoint to the program that runs it: the shape models/llama.ts is traced with
// (sizes from config.json, slots and max-model-len from the caller, each weight's storage dtype from the
// loaded tensors) and the RoPE tables the program reads as parameters.
import type { FloatDType } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Program } from '../../dsl/index.ts';
import type { LlamaShape } from '../../models/llama.ts';
import { llamaParam, llamaProgram } from '../../models/llama.ts';
import type { LlamaConfig } from '../checkpoint/llama-config.ts';
import { ropeTables } from './rope-tables.ts';
import type { WeightData } from '../weight-data.ts';

export interface TargetProgramOptions {
  readonly slots: number;
  readonly maxLen: number;
  readonly head: LlamaShape['head'];
  readonly kvDtype?: FloatDType;
  /** the projections' input rounding (models/llama.ts LlamaShape.activations; default f32) */
  readonly activations?: LlamaShape['activations'];
}

/** models/llama.ts traced for `config`; weights named by the program keep their loaded dtypes */
export function targetProgram(config: LlamaConfig, weights: ReadonlyMap<string, Pick<HostTensor, 'dtype'>>, o: TargetProgramOptions): Program {
  return llamaProgram({
    hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize, numLayers: config.numLayers,
    numHeads: config.numHeads, numKvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize,
    rmsNormEps: config.rmsNormEps, tieWordEmbeddings: config.tieWordEmbeddings, slots: o.slots, maxLen: o.maxLen,
    head: o.head, kvDtype: o.kvDtype ?? 'f32', activations: o.activations ?? 'f32',
    weightDtype: (n: string) => (weights.get(n)?.dtype as FloatDType | undefined) ?? 'bf16',
  });
}

/** adds the rope.cos / rope.sin parameters for positions 0 … maxLen − 1 to `weights` */
export function addRopeTables(weights: Map<string, WeightData>, config: LlamaConfig, maxLen: number): void {
  const rope = ropeTables(config.rope, config.headDim, maxLen);
  weights.set(llamaParam.ropeCos, rope.cos);
  weights.set(llamaParam.ropeSin, rope.sin);
}
