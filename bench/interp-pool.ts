// Reference-interpreter checks off the main thread: a pool of worker threads, each parsing the lowered
// graph from its IR text once per model and interpreting the rows it is sent, on weights shared with the
// main thread (SharedArrayBuffer: no copies). gpu-bench's draft checks ran the interpreter inline, 3 rows
// at a time, and took longer than the benchmark's device time; the pool runs them beside the timing.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Graph } from '../compiler/ir/graph.ts';
import { printGraph } from '../compiler/ir/print.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';

interface Pending { resolve: (x: Record<string, HostTensor>) => void; reject: (e: Error) => void }

/** A tensor whose data lives in a SharedArrayBuffer (so posting it to a worker shares, not copies). */
function shared(t: HostTensor): HostTensor {
  if (t.data.buffer instanceof SharedArrayBuffer) return t;
  const C = t.data.constructor as new (b: SharedArrayBuffer) => HostTensor['data'];
  const d = new C(new SharedArrayBuffer(t.data.byteLength));
  (d as unknown as { set(a: ArrayLike<number>): void }).set(t.data as unknown as ArrayLike<number>);
  return { ...t, data: d };
}

export class InterpreterPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #rr = 0;
  #models = 0;

  constructor(size = Math.max(1, Math.min(12, availableParallelism() - 2))) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./interp-worker.ts', import.meta.url));
      w.on('message', (m: { id: number; out?: Record<string, HostTensor>; error?: string }) => {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        if (m.error !== undefined) p.reject(new Error(m.error)); else p.resolve(m.out!);
      });
      w.on('error', (e) => { for (const p of this.#pending.values()) p.reject(e); this.#pending.clear(); });
      this.#workers.push(w);
    }
  }

  get size(): number { return this.#workers.length; }

  /** Registers a graph and its weights with every worker; returns the model id to interpret with. */
  model(graph: Graph, weights: ReadonlyMap<string, HostTensor>): { id: number; weights: Map<string, HostTensor> } {
    const id = this.#models++;
    const sharedWeights = new Map([...weights].map(([k, t]) => [k, shared(t)]));
    const text = printGraph(graph);
    for (const w of this.#workers) w.postMessage({ kind: 'model', model: id, text, weights: sharedWeights });
    return { id, weights: sharedWeights };
  }

  /** Interprets `inputs` with model `model` on the next worker (round robin). */
  run(model: number, inputs: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const id = this.#next++;
    const w = this.#workers[this.#rr++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.postMessage({ kind: 'run', id, model, inputs });
    });
  }

  /** Drops a model's graph and weights in every worker. */
  drop(model: number): void { for (const w of this.#workers) w.postMessage({ kind: 'drop', model }); }

  async close(): Promise<void> { await Promise.all(this.#workers.map((w) => w.terminate())); }
}
