// Worker side of bench/interp-pool.ts: models by id (graph parsed from IR text, shared weights), runs on request.
import { parentPort } from 'node:worker_threads';
import type { Graph } from '../compiler/ir/graph.ts';
import { interpret } from '../compiler/ir/interp.ts';
import { parseGraph } from '../compiler/ir/parse/index.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';

type Msg =
  | { kind: 'model'; model: number; text: string; weights: Map<string, HostTensor> }
  | { kind: 'run'; id: number; model: number; inputs: Record<string, HostTensor> }
  | { kind: 'drop'; model: number };

const models = new Map<number, { graph: Graph; weights: Map<string, HostTensor> }>();
parentPort!.on('message', (m: Msg) => {
  if (m.kind === 'model') { models.set(m.model, { graph: parseGraph(m.text, `model ${m.model}`), weights: m.weights }); return; }
  if (m.kind === 'drop') { models.delete(m.model); return; }
  try {
    const x = models.get(m.model);
    if (!x) throw new Error(`interpreter worker: no model ${m.model}`);
    parentPort!.postMessage({ id: m.id, out: interpret(x.graph, m.inputs, x.weights) });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).stack ?? String(e) });
  }
});
