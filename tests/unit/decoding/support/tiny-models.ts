// Small deterministic models for decoder tests: a fixed-weight recurrent target, a target that replays a
// corpus (so suffix decoding gets hits), and draft models with the Arctic shape (hidden + token in, k
// greedy tokens out).
import type { DraftModel, TargetModel } from '../../../../runtime/decoding/index.ts';
import { Xoshiro128 } from '../../../../runtime/decoding/index.ts';

// h' = tanh(W h + E[token]); logits = scale · U h'. Row i of forward() is the state after token i.
export class TinyRnn implements TargetModel {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly W: Float64Array;
  readonly E: Float64Array;
  readonly U: Float64Array;
  readonly scale: number;
  forwardCalls = 0;

  constructor(vocabSize: number, hiddenSize: number, seed: number, scale = 3) {
    this.vocabSize = vocabSize; this.hiddenSize = hiddenSize; this.scale = scale;
    const rng = new Xoshiro128(seed);
    const init = (n: number, s: number) => Float64Array.from({ length: n }, () => (rng.next() * 2 - 1) * s);
    this.W = init(hiddenSize * hiddenSize, 1.2 / Math.sqrt(hiddenSize));
    this.E = init(vocabSize * hiddenSize, 1);
    this.U = init(vocabSize * hiddenSize, 1);
  }

  step(h: Float64Array, token: number): Float64Array {
    const H = this.hiddenSize, out = new Float64Array(H);
    for (let i = 0; i < H; i++) {
      let s = this.E[token * H + i];
      for (let j = 0; j < H; j++) s += this.W[i * H + j] * h[j];
      out[i] = Math.tanh(s);
    }
    return out;
  }

  logits(h: ArrayLike<number>, out: Float32Array, at: number): void {
    const H = this.hiddenSize;
    for (let v = 0; v < this.vocabSize; v++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += this.U[v * H + j] * h[j];
      out[at + v] = this.scale * s;
    }
  }

  forward(tokens: Int32Array, count: number): { hidden: Float32Array; logits: Float32Array } {
    this.forwardCalls++;
    const H = this.hiddenSize, V = this.vocabSize;
    const hidden = new Float32Array(count * H), logits = new Float32Array(count * V);
    let h: Float64Array = new Float64Array(H);
    for (let i = 0; i < tokens.length; i++) {
      h = this.step(h, tokens[i]);
      const r = i - (tokens.length - count);
      if (r >= 0) { hidden.set(h, r * H); this.logits(h, logits, r * V); }
    }
    return { hidden, logits };
  }
}

// The Arctic shape over TinyRnn: from the target's hidden state and the token it produced, run the target's
// own recurrence greedily k times. Under greedy decoding every draft token is accepted.
export class OracleDraft implements DraftModel {
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly numSpeculativeTokens: number;
  readonly target: TinyRnn;
  calls: number[] = []; // batch size of each call

  constructor(target: TinyRnn, k: number) {
    this.target = target; this.hiddenSize = target.hiddenSize; this.vocabSize = target.vocabSize; this.numSpeculativeTokens = k;
  }

  async propose(req: { hidden: Float32Array; tokens: Int32Array }): Promise<Int32Array> {
    const B = req.tokens.length, H = this.hiddenSize, k = this.numSpeculativeTokens, V = this.vocabSize;
    this.calls.push(B);
    const out = new Int32Array(B * k), row = new Float32Array(V);
    for (let b = 0; b < B; b++) {
      let h: Float64Array = Float64Array.from(req.hidden.subarray(b * H, (b + 1) * H));
      let t = req.tokens[b];
      for (let i = 0; i < k; i++) {
        h = this.target.step(h, t);
        this.target.logits(h, row, 0);
        t = argmax(row);
        out[b * k + i] = t;
      }
    }
    return out;
  }
}

// Deterministic junk drafts: mostly rejected, which exercises the rejection paths.
export class NoiseDraft implements DraftModel {
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly numSpeculativeTokens: number;
  private readonly rng: Xoshiro128;

  constructor(hiddenSize: number, vocabSize: number, k: number, seed: number) {
    this.hiddenSize = hiddenSize; this.vocabSize = vocabSize; this.numSpeculativeTokens = k;
    this.rng = new Xoshiro128(seed);
  }

  async propose(req: { hidden: Float32Array; tokens: Int32Array }): Promise<Int32Array> {
    return Int32Array.from({ length: req.tokens.length * this.numSpeculativeTokens }, () => Math.floor(this.rng.next() * this.vocabSize));
  }
}

// Predicts the token that followed the longest earlier occurrence of the context's tail in a fixed corpus
// (falling back to a hash of the last token), with a peaked but not one-hot distribution.
export class CorpusTarget implements TargetModel {
  readonly vocabSize: number;
  readonly hiddenSize = 4;
  readonly corpus: Int32Array;

  constructor(corpus: Int32Array, vocabSize: number) {
    this.corpus = corpus; this.vocabSize = vocabSize;
  }

  predict(tokens: Int32Array, end: number): number {
    const c = this.corpus;
    let bestLen = 0, bestNext = (tokens[end - 1] * 7 + 3) % this.vocabSize;
    for (let p = 1; p < c.length; p++) {
      let n = 0;
      while (n < 8 && p - 1 - n >= 0 && end - 1 - n >= 0 && c[p - 1 - n] === tokens[end - 1 - n]) n++;
      if (n > bestLen) { bestLen = n; bestNext = c[p]; }
    }
    return bestNext;
  }

  forward(tokens: Int32Array, count: number): { hidden: Float32Array; logits: Float32Array } {
    const V = this.vocabSize, H = this.hiddenSize;
    const hidden = new Float32Array(count * H), logits = new Float32Array(count * V);
    for (let r = 0; r < count; r++) {
      const end = tokens.length - count + r + 1;
      const next = this.predict(tokens, end);
      for (let v = 0; v < V; v++) logits[r * V + v] = v === next ? 4 : ((v * 31 + end) % 7) / 7;
      hidden.set([next / V, end % 5, tokens[end - 1] / V, 1], r * H);
    }
    return { hidden, logits };
  }
}

export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}
