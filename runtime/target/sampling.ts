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

/**
 * Indices of the k largest logits, largest first, ties to the lower index. A bounded insertion pass: O(V)
 * for the small k sampling uses (a full sort of a 128k vocabulary per row would dominate a decoding step).
 */
export function topIndices(logits: ArrayLike<number>, k: number): number[] {
  const V = logits.length;
  if (k >= V) return Array.from({ length: V }, (_, i) => i).sort((a, b) => (logits[b] - logits[a]) || (a - b));
  const top: number[] = [];
  for (let j = 0; j < V; j++) {
    const x = logits[j];
    // a later index never beats an equal earlier one
    if (top.length === k && !(x > logits[top[k - 1]])) continue;
    let at = top.length === k ? k - 1 : top.length;
    while (at > 0 && x > logits[top[at - 1]]) at--;
    if (top.length === k) top.pop();
    top.splice(at, 0, j);
  }
  return top;
}

/**
 * The kept tokens after temperature, top-k and top-p, ascending by id, with their probabilities (float64).
 * With top-k (or top-p) only the kept candidates are touched, never the whole vocabulary; the values are
 * the ones samplingProbs spreads over a dense row, computed in the same order.
 */
export function keptProbs(logits: ArrayLike<number>, p: SamplingParams): { ids: number[]; probs: number[] } | null {
  const V = logits.length;
  const t = p.temperature ?? 0;
  const k = p.topK && p.topK > 0 ? Math.min(p.topK, V) : V;
  const topP = p.topP ?? 1;
  if (!(k < V || topP < 1)) return null;
  const order = topIndices(logits, k);
  const max = logits[order[0]];
  const e = order.map((j) => Math.exp((logits[j] - max) / t));
  let sum = 0;
  for (const x of e) sum += x;
  let pr = e.map((x) => x / sum);
  let cut = order.length;
  if (topP < 1) {
    let acc = 0;
    for (let i = 0; i < order.length; i++) { acc += pr[i]; if (acc >= topP) { cut = i + 1; break; } }
    let kept = 0;
    for (let i = 0; i < cut; i++) kept += pr[i];
    pr = pr.slice(0, cut).map((x) => x / kept);
  }
  const idx = order.slice(0, cut).map((j, i) => [j, pr[i]] as const).sort((a, b) => a[0] - b[0]);
  return { ids: idx.map((x) => x[0]), probs: idx.map((x) => x[1]) };
}

/** Probabilities after temperature, top-k and top-p (float64, zeros outside the kept set). */
export function samplingProbs(logits: ArrayLike<number>, p: SamplingParams): Float64Array {
  const V = logits.length;
  const probs = new Float64Array(V);
  const kept = keptProbs(logits, p);
  if (kept) { kept.ids.forEach((j, i) => { probs[j] = kept.probs[i]; }); return probs; }
  const t = p.temperature ?? 0;
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[j] > max) max = logits[j];
  let sum = 0;
  for (let j = 0; j < V; j++) { const e = Math.exp((logits[j] - max) / t); probs[j] = e; sum += e; }
  for (let j = 0; j < V; j++) probs[j] /= sum;
  return probs;
}

/** A row's distribution: the kept ids (ascending) with their probabilities, or dense over the vocabulary (ids null). */
function rowDistribution(logits: ArrayLike<number>, p: SamplingParams): { ids: readonly number[] | null; probs: ArrayLike<number> } {
  return keptProbs(logits, p) ?? { ids: null, probs: samplingProbs(logits, p) };
}

/** Inverse CDF in ascending id order: the first id whose running probability passes u; `last` if u falls past them all. */
function inverseCdf(d: ReturnType<typeof rowDistribution>, u: number, last: number): number {
  let acc = 0;
  for (let i = 0; i < d.probs.length; i++) {
    if (d.probs[i] <= 0) continue;
    acc += d.probs[i];
    last = d.ids ? d.ids[i] : i;
    if (u < acc) return last;
  }
  return last;
}

/**
 * A sample from one row, as verifySampling draws a draft-free step (u scaled by the row's total, inverse
 * CDF over ascending ids), touching only the kept tokens when top-k or top-p applies.
 */
export function sampleToken(logits: ArrayLike<number>, p: SamplingParams, rng: Rng): number {
  const d = rowDistribution(logits, p);
  let total = 0;
  for (let i = 0; i < d.probs.length; i++) total += d.probs[i];
  return inverseCdf(d, rng.next() * total, -1);
}

/** The next token: argmax (lowest id on ties) when greedy, else an inverse-CDF sample. */
export function chooseToken(logits: ArrayLike<number>, argmax: number, p: SamplingParams, rng: Rng): number {
  if (!(p.temperature ?? 0)) return argmax;
  return inverseCdf(rowDistribution(logits, p), rng.next(), argmax);
}
