// The CPU target backend: the decoder program through the reference interpreter, the KV cache held as
// host tensors that the interpreter updates in place (buffer donation, docs/targets.md).
import type { Graph } from '../../compiler/ir/graph.ts';
import { interpret } from '../../compiler/ir/interp.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { llamaParam } from '../../models/llama.ts';
import type { TargetBackend, TargetStepInputs, TargetStepOutputs } from './backend.ts';
import { noteHostSync } from '../host-syncs.ts';

/** argmax per row, ties to the lowest index, NaN largest (the interpreter's rule). */
export function argmaxRows(logits: Float32Array, rows: number, v: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0, bv = logits[r * v];
    for (let j = 1; j < v; j++) {
      const x = logits[r * v + j];
      if (x > bv || (Number.isNaN(x) && !Number.isNaN(bv))) { bv = x; best = j; }
    }
    out[r] = best;
  }
  return out;
}

export function createCpuTargetBackend(graph: Graph, weights: ReadonlyMap<string, HostTensor>, numLayers: number, vocabSize: number): TargetBackend {
  const caches = new Map<string, HostTensor>();
  for (const n of graph.inputs) {
    const name = n.argOf<string>('name');
    if (!name.startsWith('kv_')) continue;
    caches.set(name, hostTensor(n.dtype, n.shape as number[]));
  }
  let closed = false;
  return {
    device: 'cpu',
    description: 'CPU (reference interpreter)',
    async run(x: TargetStepInputs, o: { logits: boolean; whileRunning?: () => void }): Promise<TargetStepOutputs> {
      if (closed) throw new Error('the CPU target backend is closed');
      const n = x.tokens.length, m = x.rows.length;
      noteHostSync(); // the CPU's stand-in for the device readback of the step
      const out = interpret(graph, {
        tokens: hostTensor('i32', [n], x.tokens), positions: hostTensor('i32', [n], x.positions),
        slots: hostTensor('i32', [n], x.slots), rows: hostTensor('i32', [m], x.rows),
        ...Object.fromEntries(caches),
      }, weights, { inPlace: true });
      o.whileRunning?.();
      const logits = out.logits.data as Float32Array;
      return { hidden: out.hidden.data as Float32Array, nextTokens: argmaxRows(logits, m, vocabSize), ...(o.logits ? { logits } : {}) };
    },
    readCache(layer: number, kind: 'key' | 'value'): HostTensor {
      const t = caches.get(llamaParam.cache(layer, kind));
      if (!t || layer < 0 || layer >= numLayers) throw new RangeError(`readCache: no layer ${layer} (the model has ${numLayers})`);
      return hostTensor(t.dtype, t.shape, t.data.slice());
    },
    close() { closed = true; caches.clear(); },
  };
}
