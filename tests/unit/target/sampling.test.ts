// Sampling filters: top-k selection equals a full sort (ties to the lower index), probabilities normalize,
// top-p keeps the smallest prefix reaching p.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { samplingProbs, topIndices } from '../../../runtime/target/sampling.ts';

const sorted = (l: number[]): number[] => l.map((_, i) => i).sort((a, b) => (l[b] - l[a]) || (a - b));

describe('sampling', () => {
  it('topIndices equals the first k of a stable descending sort, ties included', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 70 }), (l, k) => {
      expect(topIndices(l, k)).toEqual(sorted(l).slice(0, Math.min(k, l.length)));
    }), { numRuns: 500 });
  });
  it('top-k / top-p probabilities: zeros outside the kept set, the rest normalized', () => {
    const l = [1, 3, 2, 3, 0, -1];
    const p = samplingProbs(l, { temperature: 1, topK: 3 });
    expect([...p].filter((x) => x > 0).length).toBe(3);
    expect(p[4] + p[5] + p[0]).toBe(0);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[1]).toBeCloseTo(p[3], 15);
    const q = samplingProbs(l, { temperature: 1, topP: 0.5 });
    // the two 3s hold e^3 / (2e^3 + e^2 + …) ≈ 0.4 each: both are needed to reach 0.5, then the cut
    expect([...q].filter((x) => x > 0).length).toBe(2);
    const all = samplingProbs(l, { temperature: 2 });
    expect(all.every((x) => x > 0)).toBe(true);
    expect(all.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});
