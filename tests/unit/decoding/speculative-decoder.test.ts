import { describe, expect, it } from 'vitest';
import {
  HybridProposer, ModelProposer, NgramProposer, SpeculativeDecoder, SuffixProposer, Xoshiro128, createProposer,
  softmaxRows, type Proposer, type TargetModel,
} from '../../../runtime/decoding/index.ts';
import { CorpusTarget, NoiseDraft, OracleDraft, TinyRnn, argmax } from './support/tiny-models.ts';
import { chiSquare, chiSquareCritical } from './support/stats.ts';

const rnn = new TinyRnn(24, 8, 11);
const prompts = [
  Int32Array.from([1, 2, 3, 4, 1, 2, 3, 4, 1, 2]),
  Int32Array.from([5, 9, 13, 5, 9, 13, 5, 9, 13, 5, 9]),
  Int32Array.from([7]),
];

// Plain autoregressive greedy decoding, written out without the decoder.
function referenceGreedy(target: TargetModel, prompt: Int32Array, n: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) seq.push(argmax(target.forward(Int32Array.from(seq), 1).logits));
  return seq.slice(prompt.length);
}

const proposers = (target: TinyRnn): [string, () => Proposer][] => [
  ['model speculator (oracle drafts)', () => new ModelProposer(new OracleDraft(target, 3))],
  ['model speculator (noise drafts)', () => new ModelProposer(new NoiseDraft(target.hiddenSize, target.vocabSize, 4, 1))],
  ['suffix', () => new SuffixProposer({ maxSpecTokens: 8 })],
  ['suffix, tree drafts', () => new SuffixProposer({ maxSpecTokens: 8, useTree: true })],
  ['n-gram', () => new NgramProposer({ numSpeculativeTokens: 5, maxN: 3 })],
  ['hybrid (oracle)', () => new HybridProposer({ model: new OracleDraft(target, 3) })],
  ['hybrid (noise)', () => new HybridProposer({ model: new NoiseDraft(target.hiddenSize, target.vocabSize, 3, 2) })],
  ['config: arctic + suffix', () => createProposer({ method: 'arctic', enableSuffixDecoding: true }, { draftModel: new OracleDraft(target, 3) })],
];

describe('SpeculativeDecoder: greedy output is identical with and without speculation', () => {
  const N = 40;
  const want = prompts.map((p) => referenceGreedy(rnn, p, N));

  it('without a proposer it is plain greedy decoding', async () => {
    const out = await new SpeculativeDecoder({ target: rnn }).generate(prompts, { maxNewTokens: N });
    expect(out.map((r) => [...r.tokens])).toEqual(want);
    expect(out.every((r) => r.steps === N)).toBe(true);
  });

  it.each(proposers(rnn))('%s', async (_, make) => {
    const dec = new SpeculativeDecoder({ target: rnn, proposer: make() });
    const out = await dec.generate(prompts, { maxNewTokens: N });
    expect(out.map((r) => [...r.tokens])).toEqual(want);
    expect(dec.metrics.numAcceptedTokens).toBeLessThanOrEqual(dec.metrics.numDraftTokens);
  });

  it('oracle drafts are (almost) all accepted and save target passes', async () => {
    const model = new OracleDraft(rnn, 3);
    const dec = new SpeculativeDecoder({ target: rnn, proposer: new ModelProposer(model) });
    const out = await dec.generate(prompts, { maxNewTokens: N });
    expect(dec.metrics.meanAcceptanceLength).toBeGreaterThan(3.5);
    expect(out[0].steps).toBeLessThan(N / 3);
    expect(Math.max(...model.calls)).toBe(3); // one batched draft call per step for all requests
  });

  it('suffix decoding copies a corpus the target replays, across requests through the global tree', async () => {
    const corpus = Int32Array.from({ length: 300 }, (_, i) => (i * 7 + (i >> 4)) % 50);
    const target = new CorpusTarget(corpus, 50);
    const proposer = new SuffixProposer({ maxSpecTokens: 16 });
    const base = await new SpeculativeDecoder({ target }).generate([corpus.subarray(0, 12), corpus.subarray(100, 108)], { maxNewTokens: 60 });
    const dec = new SpeculativeDecoder({ target, proposer });
    const first = await dec.generate([corpus.subarray(0, 12), corpus.subarray(100, 108)], { maxNewTokens: 60, requestIds: ['a', 'b'] });
    expect(first.map((r) => [...r.tokens])).toEqual(base.map((r) => [...r.tokens]));
    // A later request repeating an earlier response drafts it from the global tree.
    const again = new SpeculativeDecoder({ target, proposer });
    const second = await again.generate([corpus.subarray(0, 12)], { maxNewTokens: 60, requestIds: ['c'] });
    expect([...second[0].tokens]).toEqual([...base[0].tokens]);
    expect(again.metrics.meanAcceptanceLength).toBeGreaterThan(5);
    expect(second[0].steps).toBeLessThan(15);
    expect(proposer.cache.cachedRequests).toEqual(['a', 'b', 'c']);
    expect(proposer.cache.activeRequests).toEqual([]);
  });

  it('honours maxNewTokens, stop tokens and maxDraftTokens', async () => {
    const dec = new SpeculativeDecoder({ target: rnn, proposer: new ModelProposer(new OracleDraft(rnn, 4)), maxDraftTokens: 2 });
    const out = await dec.generate([prompts[0]], { maxNewTokens: 7 });
    expect([...out[0].tokens]).toEqual(want[0].slice(0, 7));
    expect(dec.metrics.acceptedPerPosition.length).toBeLessThanOrEqual(2);
    const stop = want[0][3];
    const cut = await new SpeculativeDecoder({ target: rnn, proposer: new ModelProposer(new OracleDraft(rnn, 4)) })
      .generate([prompts[0]], { maxNewTokens: 30, stopTokenIds: [stop] });
    expect([...cut[0].tokens]).toEqual(want[0].slice(0, want[0].indexOf(stop) + 1));
  });

  it('reports metrics by draft source', async () => {
    const dec = new SpeculativeDecoder({ target: rnn, proposer: new HybridProposer({ model: new OracleDraft(rnn, 3) }) });
    await dec.generate(prompts, { maxNewTokens: 30 });
    const total = [...dec.metricsBySource.values()].reduce((a, m) => a + m.numDrafts, 0);
    expect(total).toBe(dec.metrics.numDrafts);
    expect(dec.metricsBySource.get('arctic')!.numDrafts).toBeGreaterThan(0);
  });
});

describe('SpeculativeDecoder: sampling leaves the output distribution unchanged', () => {
  // Exact joint distribution of the second and third sampled tokens (the first is marginalised out), from
  // the target itself. The first token never has a model draft (no hidden state yet); the next step drafts
  // two tokens, so these two positions see acceptance, rejection and the bonus token.
  const small = new TinyRnn(5, 4, 3, 1.5);
  const prompt = Int32Array.from([1, 3, 1, 3, 1]);
  const next = (seq: number[], T: number) => softmaxRows(small.forward(Int32Array.from(seq), 1).logits, 1, small.vocabSize, T);
  function exactJoint(T: number): number[] {
    const V = small.vocabSize, joint = new Array(V * V).fill(0);
    const p1 = next([...prompt], T);
    for (let a = 0; a < V; a++) {
      const p2 = next([...prompt, a], T);
      for (let b = 0; b < V; b++) {
        const p3 = next([...prompt, a, b], T);
        for (let c = 0; c < V; c++) joint[b * V + c] += p1[a] * p2[b] * p3[c];
      }
    }
    return joint;
  }

  // 6000 independent samples: one batch of 6000 requests, each drawing from its own seeded stream.
  async function sampleJoint(proposer: Proposer | null, T: number, seed: number): Promise<number[]> {
    const S = 6000, V = small.vocabSize;
    const dec = new SpeculativeDecoder({ target: small, proposer, temperature: T, seed });
    const out = await dec.generate(Array.from({ length: S }, () => prompt), { maxNewTokens: 4 });
    const counts = new Array(V * V).fill(0);
    for (const r of out) counts[r.tokens[1] * V + r.tokens[2]]++;
    if (proposer !== null) {
      // The drafts must really be exercised: plenty of them, some accepted and some rejected.
      expect(dec.metrics.numDraftTokens).toBeGreaterThan(1.5 * S);
      expect(dec.metrics.draftAcceptanceRate).toBeGreaterThan(0.05);
      expect(dec.metrics.draftAcceptanceRate).toBeLessThan(0.95);
    }
    return counts;
  }

  const cases: [string, () => Proposer | null][] = [
    ['no speculation', () => null],
    ['greedy model drafts', () => new ModelProposer(new OracleDraft(small, 3))],
    ['noise model drafts', () => new ModelProposer(new NoiseDraft(4, 5, 3, 9))],
    ['suffix drafts', () => new SuffixProposer({ maxSpecTokens: 4 })],
    ['hybrid', () => new HybridProposer({ model: new OracleDraft(small, 3) })],
  ];

  // Tolerance: chi-square below its upper 0.1% point (24 degrees of freedom: 51.3). Seeds are fixed, so the
  // test is deterministic; a correct sampler would fail it for 1 seed in 1000. (Over 30 other seeds, greedy
  // model drafts at T = 0.7 gave a mean statistic of 25.5, as expected for 24 degrees of freedom; seed 202
  // happens to give 47.0.)
  it.each(cases)('%s (T = 1 and T = 0.7)', async (_, make) => {
    for (const [T, seed] of [[1, 101], [0.7, 202]] as const) {
      const { stat, df } = chiSquare(await sampleJoint(make(), T, seed), exactJoint(T));
      expect(df).toBe(24);
      expect(stat).toBeLessThan(chiSquareCritical(df));
    }
  });

  it('the test has power: accepting greedy drafts blindly is detected', () => {
    // Sample tokens 1 and 2 properly, then take the greedy draft for token 3 as if always accepted.
    const V = small.vocabSize, rng = new Xoshiro128(5), counts = new Array(V * V).fill(0);
    const draw = (p: Float64Array) => { let u = rng.next(), a = 0; while (a < V - 1 && u >= p[a]) { u -= p[a]; a++; } return a; };
    for (let s = 0; s < 6000; s++) {
      const a = draw(next([...prompt], 1)), b = draw(next([...prompt, a], 1));
      counts[b * V + argmax(small.forward(Int32Array.from([...prompt, a, b]), 1).logits)]++;
    }
    expect(chiSquare(counts, exactJoint(1)).stat).toBeGreaterThan(10 * chiSquareCritical(24));
  });
});

describe('SpeculativeDecoder: bad input', () => {
  it('names the request and position of a bad prompt, and releases proposer requests on failure', async () => {
    const dec = new SpeculativeDecoder({ target: rnn });
    await expect(dec.generate([Int32Array.from([])], { maxNewTokens: 2 })).rejects.toThrow(/prompt of request 0 is empty/);
    await expect(dec.generate([Int32Array.from([1, 99])], { maxNewTokens: 2, requestIds: ['p'] })).rejects.toThrow(/request 'p' has token 99 at position 1, outside the vocab of 24/);
    await expect(dec.generate([prompts[0], prompts[1]], { maxNewTokens: 2, requestIds: [1, 1] })).rejects.toThrow(/distinct/);
    await expect(dec.generate([prompts[0]], { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens/);
    const broken: TargetModel = { vocabSize: 24, hiddenSize: 8, forward: () => ({ hidden: new Float32Array(8), logits: new Float32Array(3) }) };
    const proposer = new SuffixProposer();
    await expect(new SpeculativeDecoder({ target: broken, proposer }).generate([prompts[0]], { maxNewTokens: 2, requestIds: ['z'] }))
      .rejects.toThrow(/returned 3 logits and 8 hidden values, expected \d+ and \d+/);
    expect(proposer.cache.activeRequests).toEqual([]);
    expect(() => new SpeculativeDecoder({ target: rnn, temperature: -1 })).toThrow(/temperature/);
  });
});
