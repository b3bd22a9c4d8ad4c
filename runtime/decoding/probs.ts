// Row-wise helpers over flat (rows × V) logits or probabilities: argmax, softmax with temperature, sampling.
import { DecodingError } from './errors.ts';
import type { Rng } from './rng.ts';

export type Rows = ArrayLike<number>;

// First index of the maximum; NaN anywhere in the row is an error (it would make the choice arbitrary).
export function argmaxRow(x: Rows, row: number, V: number, what: string): number {
  const o = row * V;
  let best = 0, bv = -Infinity;
  for (let j = 0; j < V; j++) {
    const v = x[o + j];
    if (Number.isNaN(v)) throw new DecodingError(`${what}: value at position ${row}, token ${j} is NaN`);
    if (v > bv) { bv = v; best = j; }
  }
  return best;
}

// softmax(logits / temperature) per row, in float64.
export function softmaxRows(logits: Rows, rows: number, V: number, temperature: number): Float64Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new DecodingError(`softmax: temperature must be a positive finite number, got ${temperature}`);
  if (logits.length < rows * V) throw new DecodingError(`softmax: ${logits.length} logits for ${rows} rows of ${V}`);
  const out = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let m = -Infinity;
    for (let j = 0; j < V; j++) {
      const v = logits[o + j];
      if (Number.isNaN(v) || v === Infinity) throw new DecodingError(`softmax: logit at position ${r}, token ${j} is ${v}`);
      if (v > m) m = v;
    }
    if (m === -Infinity) throw new DecodingError(`softmax: every logit at position ${r} is -Infinity`);
    let s = 0;
    for (let j = 0; j < V; j++) { const e = Math.exp((logits[o + j] - m) / temperature); out[o + j] = e; s += e; }
    for (let j = 0; j < V; j++) out[o + j] /= s;
  }
  return out;
}

export const PROB_SUM_TOLERANCE = 1e-3;

// Every row finite, non-negative and summing to 1 within 1e-3.
export function checkProbRows(p: Rows, rows: number, V: number, what: string): void {
  if (p.length !== rows * V) throw new DecodingError(`${what}: expected ${rows} rows × ${V} probabilities, got ${p.length} values`);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < V; j++) {
      const v = p[r * V + j];
      if (!(v >= 0) || v === Infinity) throw new DecodingError(`${what}: probability at position ${r}, token ${j} is ${v}`);
      s += v;
    }
    if (Math.abs(s - 1) > PROB_SUM_TOLERANCE) throw new DecodingError(`${what}: probabilities at position ${r} sum to ${s}, not 1 (tolerance ${PROB_SUM_TOLERANCE})`);
  }
}

// Inverse-CDF sample from row `row`, optionally with one token's mass removed (and the rest renormalised).
// Returns -1 when nothing is left to sample.
export function sampleRow(p: Rows, row: number, V: number, rng: Rng, exclude = -1): number {
  const o = row * V;
  let total = 0;
  for (let j = 0; j < V; j++) if (j !== exclude) total += p[o + j];
  if (!(total > 0)) return -1;
  const u = rng.next() * total;
  let acc = 0, last = -1;
  for (let j = 0; j < V; j++) {
    if (j === exclude || p[o + j] <= 0) continue;
    acc += p[o + j];
    last = j;
    if (u < acc) return j;
  }
  return last; // u landed in the rounding gap at the top
}
