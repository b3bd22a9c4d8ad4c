import { describe, expect, it } from 'vitest';
import {
  DecodingError, HybridProposer, ModelProposer, NgramProposer, SuffixDecodingCache, SuffixProposer, createProposer,
  firstPath, parseSpeculativeConfig, type DraftModel,
} from '../../../runtime/decoding/index.ts';

// Drafts [row token + 1, + 2, ...]; records the batch it was called with.
class CountingDraft implements DraftModel {
  readonly hiddenSize = 2;
  readonly vocabSize = 100;
  readonly numSpeculativeTokens: number;
  batches: number[][] = [];
  constructor(k: number) { this.numSpeculativeTokens = k; }
  async propose(req: { hidden: Float32Array; tokens: Int32Array }): Promise<Int32Array> {
    this.batches.push([...req.tokens]);
    const k = this.numSpeculativeTokens;
    return Int32Array.from({ length: req.tokens.length * k }, (_, i) => (req.tokens[Math.floor(i / k)] + (i % k) + 1) % 100);
  }
}

const h = new Float32Array(2);

describe('HybridProposer (spec §4.3)', () => {
  it('uses the suffix draft when its score reaches n_predict, else the model draft, per request', async () => {
    const model = new CountingDraft(3);
    const hybrid = new HybridProposer({ model, maxSpecTokens: 8 });
    hybrid.startRequest('rep', [1, 2, 3, 4, 5, 6, 9, 1, 2, 3, 4, 5, 6, 9, 7]); // "1 2 3" always goes on 4 5 6
    hybrid.startRequest('new', [40, 41, 42]);
    const [a, b] = await hybrid.propose([
      { requestId: 'rep', tokens: Int32Array.from([9, 1, 2, 3]), hidden: h },
      { requestId: 'new', tokens: Int32Array.from([40, 41, 42]), hidden: h },
    ]);
    expect(a.source).toBe('suffix');
    expect([...a.tokens]).toEqual([4, 5, 6]); // m = 3: three tokens at probability 1, score 3 >= n_predict 3
    expect(a.score).toBe(3);
    expect(b.source).toBe('arctic');
    expect([...b.tokens]).toEqual([43, 44, 45]);
    expect(model.batches).toEqual([[42]]); // only the row that needed it
  });

  it('a suffix score just below n_predict loses to the model', async () => {
    const model = new CountingDraft(3);
    const hybrid = new HybridProposer({ model });
    hybrid.startRequest(0, [1, 2, 7, 1, 2, 7, 1, 2, 8]);
    const [d] = await hybrid.propose([{ requestId: 0, tokens: Int32Array.from([0, 1, 2]), hidden: h }]);
    expect(d.source).toBe('arctic');
    expect(d.score).toBeLessThan(3);
  });

  it("bar 'measured': the bar follows the tokens the model's verified drafts were accepted with", async () => {
    const model = new CountingDraft(3);
    const hybrid = new HybridProposer({ model, bar: 'measured' });
    expect(hybrid.minScore).toBe(3); // n_predict until a model draft is verified
    hybrid.startRequest('q', [50, 51, 52]);
    const ctx = [50, 51, 52];
    for (let step = 0; step < 300; step++) {
      const [d] = await hybrid.propose([{ requestId: 'q', tokens: Int32Array.from(ctx), hidden: h }]);
      expect(d.source).toBe('arctic');
      // all three verified, the first accepted; then the target's own token (new each step: no suffix match)
      hybrid.onVerified('q', 3, 1);
      const got = [d.tokens[0], 1000 + step];
      hybrid.onTokens('q', got);
      ctx.push(...got);
    }
    expect(hybrid.minScore).toBeGreaterThan(0.98);
    expect(hybrid.minScore).toBeLessThan(1.02);
    const bar = hybrid.minScore;
    // a draft the engine did not verify (the sizer capped it to 0) does not count; a suffix row never does
    await hybrid.propose([{ requestId: 'q', tokens: Int32Array.from(ctx), hidden: h }]);
    hybrid.onVerified('q', 0, 0);
    hybrid.onVerified('q', 3, 0); // no model draft outstanding any more
    expect(hybrid.minScore).toBe(bar);
    expect(() => new HybridProposer({ model, bar: 'median' as 'measured' })).toThrow(/bar must be one of n_predict, measured, got median/);
  });

  it('feeds accepted tokens into the cache and releases requests', async () => {
    const cache = new SuffixDecodingCache();
    const hybrid = new HybridProposer({ model: new CountingDraft(2), cache });
    hybrid.startRequest('r', [1]);
    hybrid.onTokens('r', Int32Array.from([2, 3]));
    expect(cache.localTree('r').numTokens).toBe(3);
    hybrid.stopRequest('r');
    expect(cache.isActive('r')).toBe(false);
  });
});

describe('proposers', () => {
  it('ModelProposer batches the rows that have a hidden state and skips the first step', async () => {
    const model = new CountingDraft(2);
    const p = new ModelProposer(model);
    const d = await p.propose([
      { requestId: 0, tokens: Int32Array.from([5]), hidden: null },
      { requestId: 1, tokens: Int32Array.from([7, 8]), hidden: h },
      { requestId: 2, tokens: Int32Array.from([9]), hidden: h },
    ]);
    expect(d.map((x) => [x.source, [...x.tokens]])).toEqual([['none', []], ['arctic', [9, 10]], ['arctic', [10, 11]]]);
    expect(model.batches).toEqual([[8, 9]]);
  });

  it('ModelProposer names a draft model that returns ids outside its vocabulary', async () => {
    const bad: DraftModel = { hiddenSize: 2, vocabSize: 10, numSpeculativeTokens: 2, propose: async () => Int32Array.from([1, 12]) };
    await expect(new ModelProposer(bad).propose([{ requestId: 'q', tokens: Int32Array.from([1]), hidden: h }]))
      .rejects.toThrow(/request 'q' position 1: token 12 outside \[0, 10\)/);
    const short: DraftModel = { ...bad, propose: async () => Int32Array.from([1]) };
    await expect(new ModelProposer(short).propose([{ requestId: 'q', tokens: Int32Array.from([1]), hidden: h }])).rejects.toThrow(/returned 1 ids for 1 rows × 2 tokens/);
  });

  it('SuffixProposer reduces tree drafts to their most probable path', async () => {
    const p = new SuffixProposer({ useTree: true, maxSpecTokens: 6, maxSpecOffset: 4 });
    p.startRequest('t', [1, 2, 7, 0, 1, 2, 7, 0, 1, 3, 8, 0]);
    const [d] = await p.propose([{ requestId: 't', tokens: Int32Array.from([0, 1]), hidden: null }]);
    expect([...d.tokens]).toEqual([2, 7, 0, 1]);
    expect([...firstPath(Int32Array.from([2, 7, 3, 0, 8]), Int32Array.from([-1, 0, -1, 1, 2]))]).toEqual([2, 7, 0]);
  });
});

describe('speculative config', () => {
  it('fills the reference defaults', () => {
    expect(parseSpeculativeConfig({ method: 'arctic' })).toMatchObject({
      enableSuffixDecoding: false, suffixCacheMaxDepth: 64, suffixSpeculativeTokens: 0, suffixCacheMaxRequests: 100000,
      suffixMaxSpecFactor: 1, suffixMaxSpecOffset: 0, suffixMinTokenProb: 0.1,
    });
  });

  it('builds the proposer each method asks for', () => {
    const model = new CountingDraft(3);
    expect(createProposer({ method: 'arctic' }, { draftModel: model })).toBeInstanceOf(ModelProposer);
    const hybrid = createProposer({ method: 'arctic', enableSuffixDecoding: true, suffixCacheMaxDepth: 32 }, { draftModel: model });
    expect(hybrid).toBeInstanceOf(HybridProposer);
    expect((hybrid as HybridProposer).suffix.cache.maxTreeDepth).toBe(32);
    expect((hybrid as HybridProposer).minScore).toBe(3);
    const suffix = createProposer({ method: 'suffix' }) as SuffixProposer;
    expect(suffix.minScore).toBe(0);
    expect(suffix.spec.maxSpecTokens).toBe(16);
    expect((createProposer({ method: 'suffix', suffixSpeculativeTokens: 24 }) as SuffixProposer).spec.maxSpecTokens).toBe(24);
    expect(createProposer({ method: 'ngram', numSpeculativeTokens: 4, promptLookupMax: 3 })).toBeInstanceOf(NgramProposer);
  });

  it('rejects unknown fields, bad values and missing dependencies with the field named', () => {
    expect(() => parseSpeculativeConfig({ method: 'medusa' })).toThrow(/method/);
    expect(() => parseSpeculativeConfig({ method: 'suffix', suffixMinTokenProb: 2 })).toThrow(/suffixMinTokenProb/);
    expect(() => parseSpeculativeConfig({ method: 'suffix', suffixCacheMaxDepth: 0 })).toThrow(/suffixCacheMaxDepth/);
    expect(() => parseSpeculativeConfig({ method: 'suffix', typo: 1 })).toThrow(/typo/);
    expect(() => parseSpeculativeConfig({ method: 'ngram', promptLookupMin: 4, promptLookupMax: 2 })).toThrow(/promptLookupMin must not exceed/);
    expect(() => createProposer({ method: 'arctic' })).toThrow(/needs a draft model/);
    expect(() => createProposer({ method: 'ngram' })).toThrow(/needs numSpeculativeTokens/);
    expect(() => createProposer({ method: 'arctic', numSpeculativeTokens: 2 }, { draftModel: new CountingDraft(3) })).toThrow(DecodingError);
  });
});
