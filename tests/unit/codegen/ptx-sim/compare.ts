// Random inputs for a graph and a tolerance comparison of two output tensors (simulated vs interpreter).
import type { DType } from '../../../../compiler/ir/dtype.ts';
import type { Graph } from '../../../../compiler/ir/graph.ts';
import { graphNodes, graphParams } from '../../../../compiler/ir/graph.ts';
import type { HostTensor } from '../../../../compiler/ir/tensor-data.ts';
import { hostTensor, reader, writer } from '../../../../compiler/ir/tensor-data.ts';
import type { Rng } from '../../../support/random-graph.ts';

/** Upper bounds for values used as gather ids, per input/param name (they must index the table). */
function idBounds(g: Graph): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'gather') continue;
    const rows = n.src[0].shape[0];
    const visit = (x: typeof n): void => {
      if (x.op === 'input' || x.op === 'param') { const k = x.argOf<string>('name'); out.set(k, Math.min(out.get(k) ?? Infinity, typeof rows === 'number' ? rows : 1)); return; }
      if (x.op === 'reshape' || x.op === 'broadcast' || x.op === 'permute' || x.op === 'slice' || x.op === 'concat') x.src.forEach(visit);
    };
    visit(n.src[1]);
  }
  return out;
}

function fill(r: Rng, dtype: DType, shape: number[], bound?: number): HostTensor {
  const t = hostTensor(dtype, shape);
  const w = writer(t);
  for (let i = 0; i < t.data.length; i++) {
    if (bound !== undefined) w(i, r.int(0, bound - 1));
    else if (dtype === 'bool') w(i, r.chance(0.5) ? 1 : 0);
    else if (dtype === 'i32' || dtype === 'i64') w(i, r.int(-20, 20));
    else w(i, (r.next() * 2 - 1) * 3);
  }
  return t;
}

export function randomInputs(g: Graph, r: Rng, dims: ReadonlyMap<string, number>): { inputs: Record<string, HostTensor>; params: Map<string, HostTensor> } {
  const bounds = idBounds(g);
  const size = (s: readonly (number | string)[]): number[] => s.map((d) => (typeof d === 'number' ? d : dims.get(d)!));
  const inputs: Record<string, HostTensor> = {};
  for (const n of g.inputs) inputs[n.argOf<string>('name')] = fill(r, n.dtype, size(n.shape), bounds.get(n.argOf<string>('name')));
  const params = new Map(graphParams(g).map((n) => [n.argOf<string>('name'), fill(r, n.dtype, size(n.shape), bounds.get(n.argOf<string>('name')))]));
  return { inputs, params };
}

const RTOL: Record<DType, number> = { f32: 2e-4, f16: 2e-3, bf16: 1.6e-2, fp8e4m3: 0.13, i32: 0, i64: 0, bool: 0 };

/** Indices where got and want differ beyond the dtype's tolerance (NaN equals NaN). */
export function mismatches(got: HostTensor, want: HostTensor, atol = 1e-5): number[] {
  const a = reader(got), b = reader(want);
  const out: number[] = [];
  const rtol = RTOL[want.dtype];
  for (let i = 0; i < want.data.length; i++) {
    const x = a(i), y = b(i);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) out.push(i);
  }
  return out;
}
