import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SuffixTree } from '../../../runtime/decoding/index.ts';
import { TrieModel } from './support/trie-model.ts';

const f32 = Math.fround;
const spec = (t: SuffixTree, ctx: number[], o: Partial<{ maxSpecTokens: number; maxSpecFactor: number; maxSpecOffset: number; minTokenProb: number; useTree: boolean }> = {}) =>
  t.speculate(ctx, { maxSpecTokens: 16, ...o });
const plain = (d: { tokens: Int32Array; parents: Int32Array; probs: Float32Array; score: number; matchLength: number }) =>
  ({ tokens: [...d.tokens], parents: [...d.parents], probs: [...d.probs], score: d.score, matchLength: d.matchLength });

describe('SuffixTree: speculation by the spec (§4.2)', () => {
  it('continues the most frequent branch, with probability count(child)/count(node)', () => {
    const t = new SuffixTree(64);
    t.extend(0, [1, 2, 3, 1, 2, 3, 1, 2]);
    t.checkInvariants();
    // "1 2" occurs 3 times; twice followed by 3, once at the sequence's end. m = 2 allows 2 tokens.
    const d = spec(t, [9, 1, 2]);
    expect(plain(d)).toEqual({ tokens: [3, 1], parents: [-1, 0], probs: [f32(2 / 3), f32(2 / 3)], score: f32(f32(2 / 3) + f32(2 / 3)), matchLength: 2 });
  });

  it('budget = clamp(min(maxSpecTokens, floor(m·factor + offset + 1e-6)), ≥ 0), longest match on equal scores', () => {
    const t = new SuffixTree(64);
    t.extend(0, Array.from({ length: 40 }, (_, i) => i)); // distinct tokens: every continuation has probability 1
    const ctx = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    expect(plain(spec(t, ctx))).toMatchObject({ tokens: [20, 21, 22, 23, 24, 25, 26, 27, 28], score: 9, matchLength: 9 });
    // factor 0.5, offset 1: m = 8 and m = 9 both allow 5 tokens; the tie goes to the longer match.
    expect(plain(spec(t, ctx, { maxSpecFactor: 0.5, maxSpecOffset: 1 }))).toMatchObject({ tokens: [20, 21, 22, 23, 24], matchLength: 9 });
    expect(plain(spec(t, ctx, { maxSpecTokens: 3 }))).toMatchObject({ tokens: [20, 21, 22], score: 3, matchLength: 9 });
    // A negative offset clamps the budget at zero: nothing to draft, but the longest match is still reported.
    expect(plain(spec(t, ctx, { maxSpecOffset: -100 }))).toMatchObject({ tokens: [], score: 0, matchLength: 9 });
    // 10 · float32(0.7) = 6.99999988…; the 1e-6 lifts it to 7 tokens, as in the reference.
    expect(spec(t, Array.from({ length: 11 }, (_, i) => i), { maxSpecFactor: 0.7 }).tokens.length).toBe(7);
  });

  it('matches only suffixes shorter than the context and stops at the first failure', () => {
    const t = new SuffixTree(64);
    t.extend(0, [5, 6, 7]);
    expect(spec(t, [6]).matchLength).toBe(0); // m < 1 never runs: a 1-token context has no usable suffix
    expect(plain(spec(t, [4, 5, 6]))).toMatchObject({ tokens: [7], score: 1, matchLength: 2 });
    expect(plain(spec(t, [6, 9]))).toMatchObject({ tokens: [], matchLength: 0 });
  });

  it('stops a path when the running probability drops below minTokenProb', () => {
    const t = new SuffixTree(64);
    // After 1: nine times 2, once 3; after "1 2": 4 five times, 5 four times.
    const seq: number[] = [];
    for (let i = 0; i < 9; i++) seq.push(1, 2, i % 2 === 0 ? 4 : 5, 0);
    seq.push(1, 3, 0);
    t.extend(0, seq);
    t.checkInvariants();
    const at = (minTokenProb: number) => plain(spec(t, [0, 1], { maxSpecOffset: 10, minTokenProb }));
    // 0.9 for 2, then 0.9 · 5/9 = 0.5 for 4 (and the rest of its edge), then 0.4 for the next branch.
    expect(at(0.5)).toMatchObject({ tokens: [2, 4, 0, 1], probs: [f32(0.9), 0.5, 0.5, 0.5], matchLength: 1 });
    expect(at(0.51)).toMatchObject({ tokens: [2], probs: [f32(0.9)] });
    expect(at(0.1).tokens.length).toBe(11);
  });

  it('tree speculation expands best-first and encodes the tree in parents', () => {
    const t = new SuffixTree(64);
    t.extend(0, [1, 2, 7, 0, 1, 2, 7, 0, 1, 3, 8, 0]);
    const d = spec(t, [0, 1], { useTree: true, maxSpecOffset: 10, minTokenProb: 0.1 });
    // After 1: 2 (2/3) then its edge 7 0 1 at 2/3, before the 1/3 branch 3.
    expect([...d.tokens].slice(0, 5)).toEqual([2, 7, 0, 1, 3]);
    expect([...d.parents].slice(0, 5)).toEqual([-1, 0, 1, 2, -1]);
    expect([...d.probs].slice(0, 5)).toEqual([f32(2 / 3), f32(2 / 3), f32(2 / 3), f32(2 / 3), f32(1 / 3)]);
    expect(d.score).toBe([...d.probs].reduce((a, p) => f32(a + p), 0));
  });

  it('is depth-limited: a match of length m has at most maxDepth - m tokens to offer', () => {
    const t = new SuffixTree(4);
    t.extend(0, Array.from({ length: 20 }, (_, i) => i));
    t.checkInvariants();
    // With a generous budget, a 1-token match reaches 3 tokens deeper and a 2-token match only 2.
    expect(plain(spec(t, [5, 6], { maxSpecOffset: 10 }))).toMatchObject({ tokens: [7, 8, 9], matchLength: 1 });
    expect(plain(spec(t, [4, 5, 6], { maxSpecOffset: 10 }))).toMatchObject({ tokens: [7, 8, 9], score: 3, matchLength: 1 });
    expect(plain(spec(t, [3, 4, 5, 6], { maxSpecOffset: 10, maxSpecTokens: 2 }))).toMatchObject({ tokens: [7, 8], matchLength: 2 });
    expect(spec(new SuffixTree(1), [1, 2]).tokens.length).toBe(0);
  });
});

describe('SuffixTree: structure', () => {
  it('stores nodes in typed arrays that grow by doubling, and reports its bytes', () => {
    const t = new SuffixTree(8);
    expect(t.nodes.count).toBeInstanceOf(Int32Array);
    const before = t.bytes();
    for (let i = 0; i < 2000; i++) t.append(7, (i * 7919) % 101);
    t.checkInvariants();
    expect(t.nodes.capacity & (t.nodes.capacity - 1)).toBe(0);
    expect(t.bytes()).toBeGreaterThan(before);
    expect(t.numTokens).toBe(2000);
    expect(t.sequenceLength(7)).toBe(2000);
  });

  it('remove() leaves exactly the tree of the remaining sequences', () => {
    const a = [1, 2, 3, 1, 2, 4, 1, 2, 3, 5], b = [2, 3, 1, 2, 3, 1, 9, 2, 3];
    const only = new SuffixTree(5);
    only.extend(1, a);
    const both = new SuffixTree(5);
    both.extend(2, b); both.extend(1, a); both.append(2, 4);
    both.remove(2);
    both.checkInvariants();
    expect(both.numNodes).toBe(only.numNodes);
    for (const ctx of [[1, 2], [3, 1, 2], [2, 3], [9, 2], [4, 1, 2, 3]]) {
      for (const useTree of [false, true]) expect(plain(spec(both, ctx, { useTree }))).toEqual(plain(spec(only, ctx, { useTree })));
    }
    both.remove(1);
    both.checkInvariants();
    expect(both.numNodes).toBe(1);
    expect(both.numTokens).toBe(0);
  });

  it('sealing links the window suffixes, refuses appends, and changes no draft', () => {
    const t = new SuffixTree(6);
    t.extend(3, [4, 4, 5, 4, 4, 6, 4, 4, 5]);
    const before = plain(spec(t, [0, 4, 4]));
    t.seal(3);
    t.checkInvariants();
    expect(t.isSealed(3)).toBe(true);
    expect(plain(spec(t, [0, 4, 4]))).toEqual(before);
    expect(() => t.append(3, 1)).toThrow(/sequence 3 is sealed/);
    t.remove(3);
    t.checkInvariants();
  });

  it('a tail hint gives the same draft as matching from the root', () => {
    const t = new SuffixTree(8);
    const s = [1, 2, 1, 3, 1, 2, 1, 2, 4, 1, 2, 1, 3];
    t.extend(0, s); t.extend(1, [2, 1, 3, 1, 2, 1, 2]);
    for (let cut = 2; cut <= s.length; cut++) {
      const ctx = s.slice(Math.max(0, cut - 10), cut);
      const u = new SuffixTree(8); u.extend(0, s.slice(0, cut)); u.extend(1, [2, 1, 3, 1, 2, 1, 2]);
      for (const useTree of [false, true]) expect(plain(u.speculate(ctx, { maxSpecTokens: 5, useTree }, 0))).toEqual(plain(spec(u, ctx, { maxSpecTokens: 5, useTree })));
    }
  });
});

// Random workloads against the naive trie model: same counts, same sibling order, same drafts.
type Op = { kind: 'append'; seq: number; tokens: number[] } | { kind: 'remove'; seq: number } | { kind: 'seal'; seq: number };

const opArb = (vocab: number) => fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), seq: fc.integer({ min: 0, max: 4 }), tokens: fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: 1, maxLength: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), seq: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('seal' as const), seq: fc.integer({ min: 0, max: 4 }) }) },
);

function replay(depth: number, ops: Op[]): { tree: SuffixTree; model: TrieModel } {
  const tree = new SuffixTree(depth), model = new TrieModel(depth);
  const sealed = new Set<number>();
  for (const op of ops) {
    const exists = tree.hasSequence(op.seq);
    if (op.kind === 'append') {
      if (sealed.has(op.seq)) continue;
      tree.extend(op.seq, op.tokens);
      for (const x of op.tokens) model.append(op.seq, x);
    } else if (op.kind === 'remove' && exists) {
      tree.remove(op.seq); model.remove(op.seq); sealed.delete(op.seq);
    } else if (op.kind === 'seal' && exists) {
      tree.seal(op.seq); sealed.add(op.seq);
    }
    tree.checkInvariants();
  }
  return { tree, model };
}

describe('SuffixTree vs a naive trie (property)', () => {
  it('keeps its invariants and drafts exactly like the model (path mode)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 7 }).chain((v) => fc.tuple(fc.constant(v), fc.array(opArb(v), { maxLength: 25 }), fc.array(fc.array(fc.integer({ min: 0, max: v - 1 }), { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 6 }))),
      fc.integer({ min: 1, max: 6 }), fc.constantFrom(0.5, 1, 1.5), fc.constantFrom(0, 0.1, 0.34),
      (depth, [, ops, ctxs], maxSpec, factor, minProb) => {
        const { tree, model } = replay(depth, ops);
        expect(tree.numTokens).toBe([...model.seqs.values()].reduce((a, s) => a + s.length, 0));
        for (const ctx of ctxs) {
          const got = plain(tree.speculate(ctx, { maxSpecTokens: maxSpec, maxSpecFactor: factor, minTokenProb: minProb }));
          const want = model.speculate(ctx, maxSpec, factor, 0, minProb);
          expect(got).toEqual(want);
        }
      }), { numRuns: 400, seed: 20261128 });
  });

  it('tree mode: same probabilities in the same order, same score and match length', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }).chain((v) => fc.tuple(fc.array(opArb(v), { maxLength: 20 }), fc.array(fc.array(fc.integer({ min: 0, max: v - 1 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }))),
      fc.integer({ min: 1, max: 10 }), fc.constantFrom(0, 0.05, 0.2),
      (depth, [ops, ctxs], maxSpec, minProb) => {
        const { tree, model } = replay(depth, ops);
        for (const ctx of ctxs) {
          const got = tree.speculate(ctx, { maxSpecTokens: maxSpec, minTokenProb: minProb, useTree: true });
          const want = model.speculate(ctx, maxSpec, 1, 0, minProb, true);
          expect([...got.probs]).toEqual(want.probs);
          expect(got.score).toBe(want.score);
          expect(got.matchLength).toBe(want.matchLength);
          got.parents.forEach((p, i) => expect(p).toBeLessThan(i));
        }
      }), { numRuns: 300, seed: 7 });
  });
});

describe('SuffixTree: sibling order on equal counts (ArcticInference group list, since its commit 1bc893f)', () => {
  // Three sequences: after A and B, node 5 has children 1 (count 2), 2 (count 1), 3 (count 1); C raises 2,
  // the first of the count-1 run, to 2. The reference puts it in front of the run it joins: 2 becomes the
  // head child, so the draft after 5 is 2 (the old bubbling order kept 1 first).
  it('a child raised from the head of its run goes in front of the run it joins', () => {
    const t = new SuffixTree(64);
    t.extend(0, [5, 1, 5, 1]);
    t.extend(1, [5, 2, 5, 3]);
    expect(plain(spec(t, [0, 5], { maxSpecTokens: 1 }))).toMatchObject({ tokens: [1], probs: [f32(2 / 4)] });
    t.extend(2, [5, 2]);
    t.checkInvariants();
    expect(plain(spec(t, [0, 5], { maxSpecTokens: 1 }))).toEqual({ tokens: [2], parents: [-1], probs: [f32(2 / 5)], score: f32(2 / 5), matchLength: 1 });
  });

  it('a child raised from inside its run goes behind the siblings that already had the new count', () => {
    const t = new SuffixTree(64);
    t.extend(0, [5, 1, 5, 1]);
    t.extend(1, [5, 2, 5, 3]);
    t.extend(2, [5, 3]); // 3 is second in the run of 1s: it joins the 2s behind 1
    t.checkInvariants();
    expect([...spec(t, [0, 5], { maxSpecTokens: 1 }).tokens]).toEqual([1]);
    t.extend(3, [5, 2]); // 2 now heads the run of 1s behind 3 (count 2): it goes in front of the 2s
    expect([...spec(t, [0, 5], { maxSpecTokens: 1 }).tokens]).toEqual([2]);
  });

  it('keeps that order when a removal takes a higher sibling away', () => {
    const t = new SuffixTree(64);
    t.extend(0, [5, 1, 5, 1]);
    t.extend(1, [5, 2, 5, 2]);
    t.extend(2, [5, 3, 5, 3, 5, 3]);
    // B raised 2 from the head of the 1s to 2, in front of 1; C's 3 goes in front of both, then leaves.
    t.remove(2);
    t.checkInvariants();
    expect(plain(spec(t, [0, 5], { maxSpecTokens: 1 }))).toMatchObject({ tokens: [2], probs: [0.5] });
  });
});
