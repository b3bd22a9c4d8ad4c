// The params a plan derives from other params when its weights are bound (ExecutionPlan.derived): the
// certified head's Ŵ = max_n |s_n|·‖w_n‖₂ (docs/certified-argmax.md), in float64 and rounded up to f32, so
// the kernel's error bound is never below the true one. Every caller of a plan (the CUDA executor, the
// tensor-parallel rank executor, the PTX simulator) binds weights through withDerivedWeights.
import type { HostTensor } from '../ir/tensor-data.ts';
import { hostTensor, reader } from '../ir/tensor-data.ts';
import type { ExecutionPlan, PlanDerived } from './plan.ts';

/** The smallest f32 ≥ v (v finite, ≥ 0). */
export function f32Up(v: number): number {
  const f = Math.fround(v);
  if (f >= v) return f;
  const b = new Float32Array([f]), u = new Uint32Array(b.buffer);
  u[0] += 1; // f ≥ 0: the next f32 up
  return b[0];
}

/** max over rows n of |scale[n]|·‖weight[n, :]‖₂ (scale 1 when absent), in float64, rounded up to f32 (NaN stays NaN). */
export function maxRowNorm(w: HostTensor, scale?: HostTensor): number {
  if (w.shape.length !== 2) throw new Error(`derived param: weight must be [N, K], got [${w.shape.join(', ')}]`);
  const [N, K] = w.shape as [number, number];
  const rw = reader(w), rs = scale ? reader(scale) : null;
  let best = 0;
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let k = 0; k < K; k++) { const v = rw(n * K + k); ss += v * v; }
    // float64 sum of K squares: relative error ≤ K·2^-53, covered by the factor before rounding up
    const r = Math.sqrt(ss * (1 + K * 2 ** -52)) * (rs ? Math.abs(rs(n)) : 1);
    if (Number.isNaN(r)) return NaN;
    if (r > best) best = r;
  }
  return best === Infinity ? Infinity : f32Up(best * (1 + 2 ** -50));
}

/** maxRowNorm per (weight, scale) tensor pair: a head's weights are bound once per plan (and stage) but scanned once. */
const cache = new WeakMap<HostTensor, Map<HostTensor | null, HostTensor>>();

/** One derived param from the weights it is made of. */
export function deriveWeight(d: PlanDerived, weights: ReadonlyMap<string, HostTensor>): HostTensor {
  const w = weights.get(d.weight);
  if (!w) throw new Error(`derived param "${d.name}" needs weight "${d.weight}", which the weights do not have`);
  const s = d.scale === undefined ? undefined : weights.get(d.scale);
  if (d.scale !== undefined && !s) throw new Error(`derived param "${d.name}" needs scale "${d.scale}", which the weights do not have`);
  let byScale = cache.get(w);
  if (!byScale) { byScale = new Map(); cache.set(w, byScale); }
  let t = byScale.get(s ?? null);
  if (!t) { t = hostTensor('f32', [1], Float32Array.of(maxRowNorm(w, s))); byScale.set(s ?? null, t); }
  return t;
}

/**
 * The weights with the plan's derived params made from them. Always derived (a tensor of the same name among the
 * given weights is replaced: the bound must come from the weights the kernels read).
 */
export function withDerivedWeights<W extends object>(plan: Pick<ExecutionPlan, 'derived'>, weights: ReadonlyMap<string, W | HostTensor>): ReadonlyMap<string, W | HostTensor> {
  if (!plan.derived?.length) return weights;
  const out = new Map(weights);
  // a derivation reads its source tensors whole: streamed (file-backed) weights must be read in first
  const host = (name: string): HostTensor | undefined => {
    const t = weights.get(name);
    if (t !== undefined && !('data' in t)) throw new Error(`derived param: weight "${name}" is streamed from its file; a plan with derived params needs it in memory`);
    return t as HostTensor | undefined;
  };
  const view = new Map(plan.derived.flatMap((d) => [d.weight, ...(d.scale === undefined ? [] : [d.scale])]).flatMap((n) => { const t = host(n); return t ? [[n, t] as const] : []; }));
  for (const d of plan.derived) out.set(d.name, deriveWeight(d, view));
  return out;
}
