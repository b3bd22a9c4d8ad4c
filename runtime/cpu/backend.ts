// The CPU backend: runs the traced program through the reference interpreter. It is the embedded
// default on machines without a GPU, and by construction computes exactly what the IR means.
import type { Graph } from '../../compiler/ir/graph.ts';
import { interpret } from '../../compiler/ir/interp.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Backend, ProposeBatch } from '../backend.ts';
import { noteHostSync } from '../host-syncs.ts';

export function createCpuBackend(graph: Graph, weights: ReadonlyMap<string, HostTensor>, hiddenSize: number): Backend {
  let closed = false;
  return {
    device: 'cpu',
    description: 'CPU (reference interpreter)',
    async propose(b: ProposeBatch): Promise<Int32Array> {
      if (closed) throw new Error('the CPU backend is closed');
      if (typeof b.hidden === 'bigint') throw new TypeError('propose: hidden is a device pointer, which needs the CUDA backend (this speculator runs on the CPU)');
      noteHostSync(); // the CPU's stand-in for the device readback of the draft
      const out = interpret(graph, {
        hidden: hostTensor('f32', [b.batch, hiddenSize], b.hidden),
        tokens: hostTensor('i32', [b.batch], b.tokens),
      }, weights);
      return out.draft.data as Int32Array;
    },
    close() { closed = true; },
  };
}
