import { describe, expect, it } from 'vitest';
import { AcceptanceMetrics, Xoshiro128, softmaxRows, verifyGreedy, verifySampling } from '../../../runtime/decoding/index.ts';
import { chiSquare, chiSquareCritical } from './support/stats.ts';

describe('verifyGreedy', () => {
  // Rows: argmax 2, then 0, then 1.
  const logits = [0, 1, 5, 9, 1, 2, 0, 7, 1];
  it('accepts while the draft equals the argmax, then emits the argmax', () => {
    expect(verifyGreedy([2, 1], logits, 3)).toEqual({ accepted: 1, tokens: Int32Array.from([2, 0]) });
    expect(verifyGreedy([1, 0], logits, 3)).toEqual({ accepted: 0, tokens: Int32Array.from([2]) });
  });
  it('adds a bonus token from the last row when everything is accepted', () => {
    expect(verifyGreedy([2, 0], logits, 3)).toEqual({ accepted: 2, tokens: Int32Array.from([2, 0, 1]) });
    expect(verifyGreedy([], logits.slice(0, 3), 3)).toEqual({ accepted: 0, tokens: Int32Array.from([2]) });
  });
  it('breaks argmax ties towards the lower token id', () => {
    expect(verifyGreedy([], [3, 3, 1], 3).tokens[0]).toBe(0);
  });
});

describe('verifySampling', () => {
  const p = [0.1, 0.6, 0.3];

  it('is deterministic for a seed', () => {
    const run = (seed: number) => verifySampling([1, 1, 2], [...p, ...p, ...p, ...p], 3, new Xoshiro128(seed));
    expect(run(5)).toEqual(run(5));
  });

  it('accepts a drafted token with probability p_target(x), and never resamples x itself', () => {
    let accepted = 0;
    const counts = [0, 0, 0];
    const N = 20000;
    for (let s = 0; s < N; s++) {
      const v = verifySampling([1], [...p, ...p], 3, new Xoshiro128(s));
      if (v.accepted === 1) accepted++;
      else { expect(v.tokens[0]).not.toBe(1); counts[v.tokens[0]]++; }
    }
    // Binomial(20000, 0.6): sd ≈ 69, so ±400 is more than 5 sd.
    expect(Math.abs(accepted - 0.6 * N)).toBeLessThan(400);
    // Rejected: resampled from p without token 1, renormalised: 0.25 / 0.75.
    const { stat, df } = chiSquare(counts, [0.25, 0, 0.75]);
    expect(stat).toBeLessThan(chiSquareCritical(df));
  });

  it('leaves the first token distributed exactly as p_target, whatever the draft (chi-square, α = 0.001, fixed seeds)', () => {
    for (const draft of [0, 1, 2]) {
      const counts = [0, 0, 0];
      for (let s = 0; s < 12000; s++) counts[verifySampling([draft], [...p, 0.2, 0.2, 0.6], 3, new Xoshiro128(s, draft)).tokens[0]]++;
      const { stat, df } = chiSquare(counts, p);
      expect(stat).toBeLessThan(chiSquareCritical(df));
    }
  });

  it('certain and impossible drafts', () => {
    const sure = [0, 1, 0];
    for (let s = 0; s < 50; s++) expect(verifySampling([1], [...sure, ...sure], 3, new Xoshiro128(s)).accepted).toBe(1);
    for (let s = 0; s < 50; s++) expect(verifySampling([0], [...sure, ...sure], 3, new Xoshiro128(s)).tokens[0]).toBe(1);
  });

  it('softmax with temperature gives normalised rows that the verifier accepts', () => {
    const probs = softmaxRows([1, 2, 3, 0, 0, 0], 2, 3, 0.5);
    expect(probs[0] + probs[1] + probs[2]).toBeCloseTo(1, 12);
    expect(probs[2]).toBeCloseTo(Math.exp(6) / (Math.exp(2) + Math.exp(4) + Math.exp(6)), 12);
    expect(() => verifySampling([2], probs, 3, new Xoshiro128(0))).not.toThrow();
    expect(() => softmaxRows([1, 2, 3], 1, 3, 0)).toThrow(/temperature must be a positive finite number/);
  });
});

describe('Xoshiro128', () => {
  it('is reproducible, stream-separated and uniform on [0, 1)', () => {
    const a = new Xoshiro128(42), b = new Xoshiro128(42), c = new Xoshiro128(42, 1);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(xs.slice(0, 10)).not.toEqual(Array.from({ length: 10 }, () => c.next()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const bins = new Array(10).fill(0);
    const r = new Xoshiro128(7);
    for (let i = 0; i < 50000; i++) bins[Math.floor(r.next() * 10)]++;
    const { stat, df } = chiSquare(bins, new Array(10).fill(0.1));
    expect(stat).toBeLessThan(chiSquareCritical(df));
  });
});

describe('AcceptanceMetrics', () => {
  it('counts drafts, drafted and accepted tokens, and per-position acceptance', () => {
    const m = new AcceptanceMetrics();
    expect(m.meanAcceptanceLength).toBeNaN();
    m.observe(3, 3); m.observe(3, 1); m.observe(5, 2); m.observe(0, 0); // the empty draft is not a draft
    expect(m.snapshot()).toEqual({
      numDrafts: 3, numDraftTokens: 11, numAcceptedTokens: 6,
      meanAcceptanceLength: 1 + 6 / 3, draftAcceptanceRate: 6 / 11,
      perPositionAcceptanceRate: [1, 2 / 3, 1 / 3, 0, 0],
    });
    const n = new AcceptanceMetrics();
    n.observe(2, 2);
    m.merge(n);
    expect(m.numDrafts).toBe(4);
    expect(m.acceptedPerPosition).toEqual([4, 3, 1, 0, 0]);
    expect(() => m.observe(2, 3)).toThrow(/numAccepted must be an integer in \[0, 2\]/);
  });
});
