import { describe, expect, it } from 'vitest';
import {
  DecodingError, NgramProposer, SuffixDecodingCache, SuffixTree, Xoshiro128, verifyGreedy, verifySampling,
} from '../../../runtime/decoding/index.ts';

// Every rejected call must leave the trees exactly as they were: same tokens, same nodes, same drafts, and
// all invariants intact.
function fingerprint(t: SuffixTree): string {
  const d = t.speculate([0, 1, 2, 1, 2], { maxSpecTokens: 6, maxSpecOffset: 4 });
  return JSON.stringify([t.numTokens, t.numNodes, t.sequenceIds(), [...d.tokens], d.score]);
}

function expectRejected(t: SuffixTree, call: () => unknown, message: RegExp): void {
  const before = fingerprint(t);
  expect(call).toThrow(DecodingError);
  expect(call).toThrow(message);
  t.checkInvariants();
  expect(fingerprint(t)).toBe(before);
}

const BAD_TOKENS: [unknown, RegExp][] = [
  [-1, /position 2 is -1/],
  [2 ** 31, /position 2 is 2147483648/],
  [1.5, /position 2 is 1\.5/],
  [NaN, /position 2 is NaN/],
  [Infinity, /position 2 is Infinity/],
  ['3', /position 2 is "3"/],
];

describe('bad input to SuffixTree', () => {
  const tree = () => { const t = new SuffixTree(8); t.extend(1, [1, 2, 1, 2, 3, 1, 2]); return t; };

  it.each(BAD_TOKENS)('extend with token %s is refused before anything is appended', (bad, msg) => {
    const t = tree();
    expectRejected(t, () => t.extend(1, [1, 2, bad as number, 4]), msg);
    expectRejected(t, () => t.extend(2, [1, 2, bad as number]), msg); // a new sequence is not even created
    expect(t.hasSequence(2)).toBe(false);
  });

  it('append with a bad token or sequence id', () => {
    const t = tree();
    expectRejected(t, () => t.append(1, -5), /token -5 is not an integer in \[0, 2\^31\)/);
    expectRejected(t, () => t.append(-1, 3), /sequence id must be an integer in \[0, 2147483647\], got -1/);
    expectRejected(t, () => t.append(1.5, 3), /got 1\.5/);
  });

  it('unknown sequences and sealed sequences', () => {
    const t = tree();
    expectRejected(t, () => t.remove(9), /remove: unknown sequence 9/);
    t.seal(1);
    expectRejected(t, () => t.append(1, 2), /sequence 1 is sealed/);
    expectRejected(t, () => t.sequenceLength(4), /unknown sequence 4/);
  });

  it('speculate: empty or invalid contexts, and budgets that are not positive integers', () => {
    const t = tree();
    expectRejected(t, () => t.speculate([], { maxSpecTokens: 4 }), /context is empty/);
    expectRejected(t, () => t.speculate([1, -2], { maxSpecTokens: 4 }), /context: token at position 1 is -2/);
    expectRejected(t, () => t.speculate([1, 2], { maxSpecTokens: 0 }), /maxSpecTokens must be an integer in \[1, 1048576\], got 0/);
    expectRejected(t, () => t.speculate([1, 2], { maxSpecTokens: -3 }), /got -3/);
    expectRejected(t, () => t.speculate([1, 2], { maxSpecTokens: 2.5 }), /got 2\.5/);
    expectRejected(t, () => t.speculate([1, 2], { maxSpecTokens: 4, minTokenProb: NaN }), /minTokenProb must be a finite number in \[0, 1\], got NaN/);
    expectRejected(t, () => t.speculate([1, 2], { maxSpecTokens: 4, minTokenProb: 1.5 }), /got 1\.5/);
    expectRejected(t, () => t.speculate([1, 2], { maxSpecTokens: 4, maxSpecFactor: -1 }), /maxSpecFactor/);
  });

  it('a bad maxDepth is refused', () => {
    expect(() => new SuffixTree(0)).toThrow(/maxDepth must be an integer/);
    expect(() => new SuffixTree(2.5)).toThrow(DecodingError);
  });
});

describe('bad input to SuffixDecodingCache', () => {
  const cache = () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 8 });
    c.startRequest('a', [1, 2, 1, 2, 3]);
    c.addActiveResponse('a', [1, 2]);
    return c;
  };
  const state = (c: SuffixDecodingCache) => JSON.stringify([c.activeRequests, c.cachedRequests, c.localTokens, c.globalTokens, c.globalNodes, c.localNodes]);
  const rejected = (c: SuffixDecodingCache, call: () => unknown, msg: RegExp) => {
    const before = state(c);
    expect(call).toThrow(DecodingError);
    expect(call).toThrow(msg);
    c.checkInvariants();
    expect(state(c)).toBe(before);
  };

  it('a request started twice, stopped twice, or never started', () => {
    const c = cache();
    rejected(c, () => c.startRequest('a', [1]), /startRequest: request 'a' is already active/);
    c.stopRequest('a');
    rejected(c, () => c.stopRequest('a'), /stopRequest: request 'a' is not active/);
    rejected(c, () => c.addActiveResponse(7, [1]), /addActiveResponse: request 7 is not active/);
    rejected(c, () => c.speculate('zz', [1, 2], { maxSpecTokens: 2 }), /speculate: request 'zz' is not active/);
    rejected(c, () => c.evictCachedResponse('nope'), /request 'nope' is not cached/);
  });

  it.each(BAD_TOKENS)('token %s in a prompt or a response names the request and position', (bad, msg) => {
    const c = cache();
    rejected(c, () => c.startRequest('b', [0, 1, bad as number]), msg);
    rejected(c, () => c.startRequest('b', [0, 1, bad as number]), /startRequest\('b'\): prompt/);
    expect(c.isActive('b')).toBe(false);
    rejected(c, () => c.addActiveResponse('a', [4, 4, bad as number]), /addActiveResponse\('a'\)/);
    rejected(c, () => c.speculate('a', [4, 4, bad as number], { maxSpecTokens: 3 }), /speculate\('a'\): context/);
  });

  it('a long context is checked where it is read: its last maxTreeDepth tokens', () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 4 });
    c.startRequest('r', [1, 2, 3, 1, 2]);
    const long = [7, -1, 9, 1.5, 2, 3, 1, 2]; // bad tokens only before the last 4
    expect([...c.speculate('r', long, { maxSpecTokens: 2 }).tokens]).toEqual([...c.speculate('r', [2, 3, 1, 2], { maxSpecTokens: 2 }).tokens]);
    // A bad token inside the tail is still refused, named by its position in the whole context.
    rejected(c, () => c.speculate('r', [7, 8, 9, 1, -5, 1, 2], { maxSpecTokens: 2 }), /context: token at position 4 is -5/);
    rejected(c, () => c.speculate('r', Int32Array.from([7, 8, 9, 1, 2, -3]), { maxSpecTokens: 2 }), /token at position 5 is -3/);
    const t = new SuffixTree(3);
    t.extend(0, [1, 2, 3, 1, 2, 4]);
    expect(t.speculate([-1, NaN, 2, 1, 2], { maxSpecTokens: 2 })).toEqual(t.speculate([2, 1, 2], { maxSpecTokens: 2 }));
    expect(() => t.speculate([1, 2, -1, 2], { maxSpecTokens: 2 })).toThrow(/token at position 2 is -1/);
  });

  it('empty contexts, zero or negative budgets, bad ids and options', () => {
    const c = cache();
    rejected(c, () => c.speculate('a', [], { maxSpecTokens: 3 }), /speculate\('a'\): context is empty/);
    rejected(c, () => c.speculate('a', [1], { maxSpecTokens: 0 }), /speculate\('a'\): maxSpecTokens must be an integer/);
    rejected(c, () => c.speculate('a', [1], { maxSpecTokens: -1 }), /got -1/);
    rejected(c, () => c.startRequest(NaN, [1]), /request id must be a string or a finite number/);
    rejected(c, () => c.startRequest({} as unknown as string, [1]), /request id/);
    rejected(c, () => c.startRequest('c', 'abc' as unknown as number[]), /expected an array of token ids/);
    expect(() => new SuffixDecodingCache({ maxCachedRequests: -2 })).toThrow(/maxCachedRequests must be an integer in \[-1, 2147483647\]/);
    expect(() => new SuffixDecodingCache({ maxTreeDepth: 0 })).toThrow(/maxTreeDepth/);
  });
});

describe('bad input to the verifier', () => {
  const V = 3;
  const rng = () => new Xoshiro128(1);
  const ok = [0.2, 0.3, 0.5, 0.6, 0.2, 0.2];

  it('refuses NaN, negative or unnormalised probabilities, naming position and value', () => {
    expect(() => verifySampling([1], [0.2, NaN, 0.8, 0.6, 0.2, 0.2], V, rng())).toThrow(/probability at position 0, token 1 is NaN/);
    expect(() => verifySampling([1], [0.2, 0.3, 0.5, 0.6, -0.1, 0.5], V, rng())).toThrow(/position 1, token 1 is -0\.1/);
    expect(() => verifySampling([1], [0.2, 0.3, 0.5, 0.6, 0.2, 0.21], V, rng())).toThrow(/probabilities at position 1 sum to 1\.01.*tolerance 0\.001/);
    expect(() => verifySampling([1], [0.2, 0.3, 0.5, 0.6, 0.2, 0.2009], V, rng())).not.toThrow(); // within 1e-3
  });

  it('refuses draft tokens outside the vocabulary and row counts that do not fit the draft', () => {
    expect(() => verifySampling([3], ok, V, rng())).toThrow(/draft token at position 0 is 3, outside \[0, 3\)/);
    expect(() => verifyGreedy([-1], ok, V)).toThrow(/draft token at position 0 is -1/);
    expect(() => verifyGreedy([1.5], ok, V)).toThrow(/is 1\.5/);
    expect(() => verifyGreedy([1, 2], ok, V)).toThrow(/a draft of 2 tokens needs 3 rows × 3 values, got 6/);
    expect(() => verifyGreedy([1], [0, NaN, 1, 0, 0, 0], V)).toThrow(/value at position 0, token 1 is NaN/);
  });
});

describe('bad input to the n-gram proposer', () => {
  it('refuses an empty context and bad settings', async () => {
    const p = new NgramProposer({ numSpeculativeTokens: 3 });
    expect(() => p.find([])).toThrow(/ngram: context is empty/);
    await expect(p.propose([{ requestId: 'q', tokens: new Int32Array(0), hidden: null }])).rejects.toThrow(/request 'q' has an empty context/);
    expect(() => new NgramProposer({ numSpeculativeTokens: 0 })).toThrow(/numSpeculativeTokens/);
    expect(() => new NgramProposer({ numSpeculativeTokens: 2, minN: 3, maxN: 2 })).toThrow(/maxN must be an integer >= 3/);
  });
});
