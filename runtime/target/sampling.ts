// Choosing the next token from one row of logits: greedy (temperature 0) or sampling with temperature,
// top-k and top-p, from a per-request seeded stream so a request's output does not depend on its batch.
import type { Rng } from '../decoding/rng.ts';

export interface SamplingParams {
  /** 0 (default) = greedy */
  readonly temperature?: number;
  /** keep the k most likely tokens (0 or undefined = all) */
  readonly topK?: number;
  /** keep the smallest set of tokens whose probability reaches p (1 = all) */
  readonly topP?: number;
}

export function checkSampling(p: SamplingParams, where: string): void {
  const t = p.temperature ?? 0;
  if (!(t >= 0) || !Number.isFinite(t)) throw new RangeError(`${where}: temperature must be a finite number ≥ 0, got ${p.temperature}`);
  if (p.topK !== undefined && (!Number.isInteger(p.topK) || p.topK < 0)) throw new RangeError(`${where}: top-k must be an integer ≥ 0, got ${p.topK}`);
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1)) throw new RangeError(`${where}: top-p must be in (0, 1], got ${p.topP}`);
}

/** Probabilities after temperature, top-k and top-p (float64, zeros outside the kept set). */
export function samplingProbs(logits: ArrayLike<number>, p: SamplingParams): Float64Array {
  const V = logits.length;
  const t = p.temperature ?? 0;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => (logits[b] - logits[a]) || (a - b));
  const k = p.topK && p.topK > 0 ? Math.min(p.topK, V) : V;
  const max = logits[order[0]];
  const probs = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < k; i++) { const j = order[i]; const e = Math.exp((logits[j] - max) / t); probs[j] = e; sum += e; }
  for (let i = 0; i < k; i++) probs[order[i]] /= sum;
  const topP = p.topP ?? 1;
  if (topP < 1) {
    let acc = 0, cut = k;
    for (let i = 0; i < k; i++) { acc += probs[order[i]]; if (acc >= topP) { cut = i + 1; break; } }
    let kept = 0;
    for (let i = 0; i < k; i++) if (i >= cut) probs[order[i]] = 0; else kept += probs[order[i]];
    for (let i = 0; i < cut; i++) probs[order[i]] /= kept;
  }
  return probs;
}

/** The next token: argmax (lowest id on ties) when greedy, else an inverse-CDF sample. */
export function chooseToken(logits: ArrayLike<number>, argmax: number, p: SamplingParams, rng: Rng): number {
  if (!(p.temperature ?? 0)) return argmax;
  const probs = samplingProbs(logits, p);
  const u = rng.next();
  let acc = 0, last = argmax;
  for (let j = 0; j < probs.length; j++) {
    if (probs[j] <= 0) continue;
    acc += probs[j];
    last = j;
    if (u < acc) return j;
  }
  return last;
}
