// Compile a speculator program to PTX (compileSpeculator: the CLI's passes and plan) and run it on the CUDA backend.
import type { Graph } from '../compiler/ir/graph.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import type { Backend } from './backend.ts';
import { compileSpeculator } from './compile-speculator.ts';
import { createCudaBackend } from './cuda/index.ts';
import type { ActivationMode } from '../models/llama.ts';
import type { QuantizeMode } from './quantize-program.ts';

/**
 * `traced` is the program as traced, or gate-fused with its weights built (fuseGateWeights): compileSpeculator
 * runs every pass (gate-fusion again is then a no-op); `weights` are bound by name (quantized ones as W.fp8, W.scale).
 */
export async function createCudaSpeculatorBackend(traced: Graph, weights: ReadonlyMap<string, HostTensor>, maxBatch: number, quantize: QuantizeMode = 'none', activations: ActivationMode = 'f32'): Promise<Backend> {
  const { plan } = compileSpeculator(traced, { quantize, activations, maxBatch });
  return createCudaBackend(plan, new Map(weights), { maxBatch });
}
