// AdamW (PyTorch semantics: decoupled weight decay, bias-corrected moments) over f32 master weights,
// global-norm gradient clipping and the cosine schedule with linear warm-up (reference §7.1: lr 1e-3,
// betas 0.9/0.999, weight decay 0.1, warm-up 5 %). All state is f32 and updated in place, so a resumed
// run that loads the same arrays continues bit for bit.
export interface AdamWOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly warmup: number;
  readonly totalSteps: number;
  readonly clip: number;
}

export const DEFAULT_ADAMW: Omit<AdamWOptions, 'totalSteps'> = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, warmup: 0.05, clip: 1 };

/** Learning rate at step `t` (1-based): linear warm-up over ⌈warmup·total⌉ steps, then cosine to 0. */
export function learningRate(o: Pick<AdamWOptions, 'lr' | 'warmup' | 'totalSteps'>, t: number): number {
  const w = Math.max(1, Math.ceil(o.warmup * o.totalSteps));
  if (t <= w) return (o.lr * t) / w;
  const p = (t - w) / Math.max(1, o.totalSteps - w);
  return o.lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p)));
}

export interface OptimizerSlot {
  readonly name: string;
  readonly param: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** decayed (matrices); norms' weights and biases are not, as Hugging Face's grouping excludes them */
  readonly decay: boolean;
}

/**
 * The optimizer slots of the given parameters, in their order (a training form's `params`): each starts
 * from a copy of its weight (AdamW updates the slot in place) and from the given moments or zeros;
 * matrices are decayed, vectors (norm weights and biases) not.
 */
export function optimizerSlots(params: readonly { name: string; shape: readonly number[] }[], weights: ReadonlyMap<string, Float32Array>,
  moments?: ReadonlyMap<string, { m: Float32Array; v: Float32Array }>): OptimizerSlot[] {
  return params.map(({ name, shape }) => {
    const w = weights.get(name);
    if (!w) throw new RangeError(`optimizer: no weight for parameter ${name}`);
    const mv = moments?.get(name);
    return { name, param: Float32Array.from(w), m: mv ? Float32Array.from(mv.m) : new Float32Array(w.length), v: mv ? Float32Array.from(mv.v) : new Float32Array(w.length), decay: shape.length > 1 };
  });
}

/** Global L2 norm of every gradient (f64 sum). */
export function globalNorm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** One AdamW step (t is 1-based) with gradients clipped to a global norm of o.clip; returns the pre-clip norm. */
export function adamwStep(slots: readonly OptimizerSlot[], grads: readonly Float32Array[], t: number, o: AdamWOptions): { norm: number; lr: number } {
  const norm = globalNorm(grads);
  const scale = o.clip > 0 && norm > o.clip ? o.clip / (norm + 1e-6) : 1;
  const lr = learningRate(o, t);
  const bc1 = 1 - o.beta1 ** t, bc2 = 1 - o.beta2 ** t;
  const stepSize = lr / bc1, sq2 = Math.sqrt(bc2);
  slots.forEach((s, k) => {
    const g = grads[k], p = s.param, m = s.m, v = s.v;
    const decay = s.decay ? 1 - lr * o.weightDecay : 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * scale;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
      p[i] = p[i] * decay - stepSize * m[i] / (Math.sqrt(v[i]) / sq2 + o.eps);
    }
  });
  return { norm, lr };
}
