// The weights of a gate-fused program: run the gate-fusion pass (gateFusionDerived) and build each fused
// weight from what the pass says it is made of (its `from` weights' rows, concatenated in order), never from
// param names. The separate gate weights are dropped where the fused program no longer reads them, so host
// (and device) memory holds one copy.
import type { Graph } from '../compiler/ir/graph.ts';
import { graphParams } from '../compiler/ir/graph.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { allocData, hostTensor } from '../compiler/ir/tensor-data.ts';
import type { GateDerivation } from '../compiler/passes/gate-fusion.ts';
import { gateFusionDerived } from '../compiler/passes/gate-fusion.ts';

export interface GateFusedProgram {
  readonly graph: Graph;
  /** exactly the params the fused graph reads */
  readonly weights: Map<string, HostTensor>;
  /** what the pass fused */
  readonly derived: readonly GateDerivation[];
}

/** One fused weight: the rows of d.from's tensors, stacked in order (checked against the derivation). */
export function buildGateWeight(d: GateDerivation, weights: ReadonlyMap<string, HostTensor>): HostTensor {
  const [rows, K] = d.shape;
  const data = allocData(d.dtype, rows * K);
  let at = 0;
  for (const name of d.from) {
    const t = weights.get(name);
    if (!t) throw new Error(`gate-fusion: fused weight "${d.name}" needs tensor "${name}", which the weights do not have`);
    if (t.dtype !== d.dtype) throw new Error(`gate-fusion: fused weight "${d.name}" is ${d.dtype}, but part "${name}" is ${t.dtype}`);
    if (t.shape.length !== 2 || t.shape[1] !== K) throw new Error(`gate-fusion: part "${name}" of "${d.name}" is [${t.shape.join(', ')}], expected [N, ${K}]`);
    (data as Uint8Array).set(t.data as Uint8Array, at); // same typed-array type as d.dtype's storage
    at += t.data.length;
  }
  if (at !== rows * K) throw new Error(`gate-fusion: the parts of "${d.name}" hold ${at / K} rows, the derivation says ${rows}`);
  return hostTensor(d.dtype, d.shape, data);
}

/** The gate-fused graph and its weights (the input weights by name; unchanged when nothing fuses). */
export function fuseGateWeights(graph: Graph, weights: ReadonlyMap<string, HostTensor>): GateFusedProgram {
  const { graph: g, derived } = gateFusionDerived(graph);
  if (derived.length === 0) return { graph, weights: new Map(weights), derived };
  const out = new Map<string, HostTensor>();
  for (const d of derived) out.set(d.name, buildGateWeight(d, weights));
  for (const p of graphParams(g)) {
    const name = p.argOf<string>('name');
    const t = weights.get(name);
    if (!out.has(name) && t) out.set(name, t);
  }
  return { graph: g, weights: out, derived };
}
