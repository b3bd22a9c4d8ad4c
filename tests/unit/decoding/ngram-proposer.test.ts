import { describe, expect, it } from 'vitest';
import { NgramProposer } from '../../../runtime/decoding/index.ts';

describe('NgramProposer (prompt lookup)', () => {
  const p = new NgramProposer({ numSpeculativeTokens: 3, minN: 1, maxN: 3 });

  it('proposes what followed the longest earlier match of the last tokens', () => {
    // "7 8" occurs earlier followed by 1 2 3; "8" alone also occurs later followed by 5.
    expect([...p.find([7, 8, 1, 2, 3, 8, 5, 0, 7, 8])]).toEqual([1, 2, 3]);
  });

  it('prefers the most recent of equally long matches', () => {
    expect([...p.find([4, 1, 4, 2, 4])]).toEqual([2, 4]);
  });

  it('stops at the end of the sequence and honours minN', () => {
    expect([...p.find([1, 2, 1])]).toEqual([2, 1]); // match of "1" at 0: continuation is 2, 1 (up to the end)
    expect(new NgramProposer({ numSpeculativeTokens: 3, minN: 2, maxN: 3 }).find([1, 2, 9, 1]).length).toBe(0);
    expect(p.find([5, 6, 7]).length).toBe(0);
  });

  it('matches at most maxN tokens, then the most recent of those', () => {
    const q = new NgramProposer({ numSpeculativeTokens: 2, minN: 1, maxN: 2 });
    // "x 1 2" at 0 (followed by 10) and "y 1 2" at 4 (followed by 20): with maxN 2 both match "1 2".
    expect([...q.find([0, 1, 2, 10, 5, 1, 2, 20, 9, 0, 1, 2])]).toEqual([20, 9]);
  });

  it('drafts through the Proposer interface', async () => {
    const d = await p.propose([{ requestId: 1, tokens: Int32Array.from([3, 4, 5, 3, 4]), hidden: null }]);
    expect(d[0].source).toBe('ngram');
    expect([...d[0].tokens]).toEqual([5, 3, 4]);
  });
});
