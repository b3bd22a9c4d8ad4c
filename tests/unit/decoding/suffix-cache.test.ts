import { describe, expect, it } from 'vitest';
import { SuffixDecodingCache, SuffixTree } from '../../../runtime/decoding/index.ts';

const opts = { maxSpecTokens: 8 };

describe('SuffixDecodingCache', () => {
  it('drafts from the request\'s own prompt through its local tree', () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 16 });
    c.startRequest('a', [5, 6, 7, 8, 9, 5, 6]);
    const d = c.speculate('a', [9, 5, 6], opts);
    expect([...d.tokens]).toEqual([7, 8]); // m = 2 allows 2 tokens
    expect(d.matchLength).toBe(2);
    c.checkInvariants();
  });

  it('shares responses across requests through the global tree, which outlives the request', () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 16 });
    c.startRequest(1, [0]);
    c.addActiveResponse(1, [10, 11, 12, 13, 14]);
    c.stopRequest(1);
    expect(c.activeRequests).toEqual([]);
    expect(c.cachedRequests).toEqual([1]);
    c.startRequest(2, [3, 3]);
    expect([...c.speculate(2, [3, 10, 11], opts).tokens]).toEqual([12, 13]);
    expect(c.globalTree.isSealed(0)).toBe(true); // request 1's response, complete
    c.checkInvariants();
  });

  it('sees another request\'s response while it is still being generated', () => {
    const c = new SuffixDecodingCache();
    c.startRequest('x', []); c.startRequest('y', []);
    c.addActiveResponse('x', [1, 2, 3, 4]);
    expect([...c.speculate('y', [0, 1, 2], opts).tokens]).toEqual([3, 4]);
  });

  it('evicts cached responses in FIFO order past maxCachedRequests', () => {
    const c = new SuffixDecodingCache({ maxCachedRequests: 2 });
    for (const id of ['r1', 'r2', 'r3']) { c.startRequest(id, []); c.addActiveResponse(id, [7, 8, 9]); c.stopRequest(id); }
    expect(c.cachedRequests).toEqual(['r2', 'r3']);
    expect(c.numCachedResponses).toBe(2);
    expect(c.globalTree.numTokens).toBe(6);
    c.checkInvariants();
  });

  it('never evicts the response that was just allocated, even with a limit of 1', () => {
    const c = new SuffixDecodingCache({ maxCachedRequests: 1 });
    c.startRequest('a', []); c.addActiveResponse('a', [1, 2]);
    c.startRequest('b', []);
    expect(c.cachedRequests).toEqual(['b']);
    c.addActiveResponse('a', [3]); // a is active but no longer cached: its local tree still grows
    expect(c.localTree('a').numTokens).toBe(3);
    expect(c.globalTree.numTokens).toBe(0);
    c.checkInvariants();
  });

  it('maxCachedRequests 0 disables the global tree', () => {
    const c = new SuffixDecodingCache({ maxCachedRequests: 0 });
    c.startRequest('a', []); c.addActiveResponse('a', [1, 2, 3]); c.stopRequest('a');
    c.startRequest('b', []);
    expect(c.numCachedResponses).toBe(0);
    expect(c.speculate('b', [0, 1, 2], opts).tokens.length).toBe(0);
  });

  it('restarting a finished request id replaces its old response', () => {
    const c = new SuffixDecodingCache();
    c.startRequest('a', []); c.addActiveResponse('a', [1, 2, 3]); c.stopRequest('a');
    c.startRequest('a', []);
    expect(c.globalTree.numTokens).toBe(0);
    expect(c.cachedRequests).toEqual(['a']);
    c.checkInvariants();
  });

  it('returns the higher-scoring tree\'s draft, the local one on a tie', () => {
    const c = new SuffixDecodingCache();
    // Global: "1 2" always followed by 3. Local: "1 2" followed by 4 then once by 5.
    c.startRequest('g', []); c.addActiveResponse('g', [1, 2, 3, 1, 2, 3]); c.stopRequest('g');
    c.startRequest('l', [1, 2, 4, 1, 2, 5, 9]);
    expect([...c.speculate('l', [0, 1, 2], opts).tokens]).toEqual([3, 1]); // global scores 2, local 1
    const tie = new SuffixDecodingCache();
    tie.startRequest('g', []); tie.addActiveResponse('g', [1, 2, 3]); tie.stopRequest('g');
    tie.startRequest('l', [1, 2, 4]);
    expect([...tie.speculate('l', [0, 1, 2], opts).tokens]).toEqual([4]); // both score 1: local wins
  });

  it('trims the context to the last maxTreeDepth tokens', () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 4 });
    c.startRequest('a', [1, 2, 3, 4, 5, 6]);
    const long = [9, 9, 9, 9, 9, 9, 9, 1, 2, 3];
    const d = c.speculate('a', long, opts);
    expect(d).toEqual(c.speculate('a', long.slice(-4), opts));
    // m = 3 reaches depth 4 after one token; m = 2 has room for two and wins.
    expect([...d.tokens]).toEqual([4, 5]);
    expect(d.matchLength).toBe(2);
  });

  it('drafts exactly what a fresh tree over the same tokens drafts (window loci change nothing)', () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 8 });
    const prompt = [1, 2, 3, 1, 2, 4, 1, 2];
    c.startRequest('a', prompt);
    const seq = [...prompt];
    for (const t of [3, 1, 2, 4, 1, 2, 3, 1]) {
      c.addActiveResponse('a', [t]); seq.push(t);
      const ref = new SuffixTree(8); ref.extend(0, seq);
      const ctx = seq.slice(-8);
      expect(c.speculate('a', ctx, { ...opts, maxSpecFactor: 2 })).toEqual(ref.speculate(ctx, { ...opts, maxSpecFactor: 2 }));
    }
  });

  it('reports sizes', () => {
    const c = new SuffixDecodingCache();
    c.startRequest('a', [1, 2, 3]); c.addActiveResponse('a', [4, 5]);
    expect(c.numActiveRequests).toBe(1);
    expect(c.localTokens).toBe(5);
    expect(c.globalTokens).toBe(2);
    expect(c.localNodes).toBeGreaterThan(1);
    expect(c.globalNodes).toBeGreaterThan(1);
    expect(c.bytes()).toBeGreaterThan(0);
  });
});
