// Compile a speculator program to PTX and run it on the CUDA backend.
import { compileProgram } from '../compiler/compile.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import type { Program } from '../dsl/index.ts';
import type { Backend } from './backend.ts';
import { createCudaBackend } from './cuda/index.ts';

export async function createCudaSpeculatorBackend(program: Program, weights: ReadonlyMap<string, HostTensor>, maxBatch: number): Promise<Backend> {
  const plan = compileProgram(program.graph, { maxDims: { B: maxBatch } });
  return createCudaBackend(plan, new Map(weights), { maxBatch });
}
