// Tensor-parallel drafting on the CPU: N rank programs (vocab-sharded heads, local top-1 packed in 8 bytes
// per row, one all_gather per step) run in lockstep by the interpreter give exactly the TP = 1 drafts on
// every rank, for every fixture and for random speculators whose vocabulary needs padding.
import { describe, expect, it } from 'vitest';
import { graphNodes } from '../../../compiler/ir/graph.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { interpret, interpretRanks } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { f32ToBf16 } from '../../../compiler/ir/numerics.ts';
import { paddedVocab, shardVocabParallel, shardWeights } from '../../../compiler/passes/tensor-parallel.ts';
import { loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { programFor } from '../../../runtime/speculator-program.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { FIXTURES, fixtureBatch, fixtureDir } from '../../support/fixtures.ts';

const RANKS = [1, 2, 4, 8];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };
}

function tpDrafts(g: Graph, weights: ReadonlyMap<string, HostTensor>, inputs: Record<string, HostTensor>, n: number): Int32Array[] {
  const ranks = Array.from({ length: n }, (_, r) => shardVocabParallel(g, n, r));
  for (const p of ranks) expect(p.collectives).toBe(graphNodes(p.graph).filter((x) => x.op === 'all_gather').length);
  const outs = interpretRanks(ranks.map((p) => p.graph), inputs, ranks.map((p) => shardWeights(weights, p.shards)));
  return outs.map((o) => o.draft.data as Int32Array);
}

function expectSameOnEveryRank(g: Graph, weights: ReadonlyMap<string, HostTensor>, inputs: Record<string, HostTensor>): void {
  const plain = interpret(g, inputs, weights).draft.data as Int32Array;
  for (const n of RANKS) {
    const drafts = tpDrafts(g, weights, inputs, n);
    drafts.forEach((d, r) => expect(Array.from(d), `TP=${n} rank ${r}`).toEqual(Array.from(plain)));
  }
}

describe.each(FIXTURES)('fixture %s', (name) => {
  it(`TP = ${RANKS.join(', ')}: every rank drafts exactly the TP = 1 tokens (and the reference)`, () => {
    const { config, weights } = loadCheckpoint(fixtureDir(name), { quiet: true });
    const g = programFor(config, weights).graph;
    const { hidden, tokens, expected } = fixtureBatch(name);
    const B = tokens.length;
    const inputs = { hidden: hostTensor('f32', [B, config.hiddenSize], hidden), tokens: hostTensor('i32', [B], tokens) };
    expectSameOnEveryRank(g, weights, inputs);
    const d = tpDrafts(g, weights, inputs, 4)[3];
    expect(Array.from({ length: B }, (_, b) => Array.from(d.subarray(b * config.nPredict, (b + 1) * config.nPredict)))).toEqual(expected);
    // one all_gather per drafted token
    expect(shardVocabParallel(g, 2, 0).collectives).toBe(config.nPredict);
  });
});

/** random bf16 weights for a program's params (norm weights around 1) */
function randomWeights(g: Graph, seed: number, tieHeadRows?: number): Map<string, HostTensor> {
  const r = rng(seed);
  const out = new Map<string, HostTensor>();
  for (const p of graphNodes(g).filter((n) => n.op === 'param')) {
    const shape = p.shape as number[];
    const t = hostTensor('bf16', shape);
    const name = p.argOf<string>('name');
    const norm = /ln\.\d+\.weight|_ln\.0\.weight/.test(name);
    for (let i = 0; i < t.data.length; i++) (t.data as Uint16Array)[i] = f32ToBf16(norm ? 1 + (r() - 0.5) * 0.2 : (r() - 0.5) * 0.5);
    // ties across shards: row j + k·tie equals row j (the lowest global index must win, as in argmax)
    if (tieHeadRows && name.startsWith('head.')) {
      const d = shape[1];
      for (let row = tieHeadRows; row < shape[0]; row++) (t.data as Uint16Array).copyWithin(row * d, (row % tieHeadRows) * d, (row % tieHeadRows + 1) * d);
    }
    out.set(name, t);
  }
  return out;
}

function randomInputs(H: number, V: number, B: number, seed: number): Record<string, HostTensor> {
  const r = rng(seed);
  return {
    hidden: hostTensor('f32', [B, H], Float32Array.from({ length: B * H }, () => (r() - 0.5) * 4)),
    tokens: hostTensor('i32', [B], Int32Array.from({ length: B }, () => Math.floor(r() * V))),
  };
}

describe('random 8B-shaped speculators (H = D, three tokens, vocabularies that need padding)', () => {
  // 70 with N = 8 leaves ranks 5-7 with padding rows only; 1003 pads to 1024; 4096 needs none
  const cases = [
    { kind: 'lstm', V: 1003, seed: 1 }, { kind: 'mlp', V: 1003, seed: 2 }, { kind: 'lstm', V: 70, seed: 3 },
    { kind: 'mlp', V: 70, seed: 4 }, { kind: 'lstm', V: 4096, seed: 5 },
  ] as const;
  it.each(cases)('$kind V=$V: TP = 1, 2, 4, 8 equal TP = 1 on every rank', ({ kind, V, seed }) => {
    const o = { hiddenSize: 32, width: 32, vocabSize: V, nPredict: 3, scaleInput: kind === 'lstm', tieWeights: true, weightDtype: () => 'bf16' as const };
    const g = (kind === 'lstm' ? lstmSpeculator(o) : mlpSpeculator(o)).graph;
    expectSameOnEveryRank(g, randomWeights(g, seed), randomInputs(32, V, 9, seed + 100));
  });

  it('ties across shards go to the lowest global index, as argmax', () => {
    const V = 1003;
    const o = { hiddenSize: 32, width: 32, vocabSize: V, nPredict: 3, scaleInput: false, tieWeights: true, weightDtype: () => 'bf16' as const };
    const g = lstmSpeculator(o).graph;
    // head rows repeat every 64: every rank's best row ties with rank 0's; the draft is always < 64
    const w = randomWeights(g, 7, 64);
    const inputs = randomInputs(32, V, 8, 9);
    const plain = interpret(g, inputs, w).draft.data as Int32Array;
    expect(Math.max(...plain)).toBeLessThan(64);
    expectSameOnEveryRank(g, w, inputs);
    // an all-zero head: every logit ties, the token is 0 on every rank
    const zero = new Map(w);
    const head = w.get('head.0.weight')!;
    zero.set('head.0.weight', hostTensor('bf16', head.shape, new Uint16Array(head.data.length)));
    for (const n of RANKS) for (const d of tpDrafts(g, zero, inputs, n)) expect(Array.from(d).every((t) => t === 0)).toBe(true);
  });
});

describe('the sharding', () => {
  it('pads V to a multiple of 64 (and of N) and gives each rank V_p / N rows', () => {
    expect(paddedVocab(128256, 8)).toBe(128256);
    expect(paddedVocab(152064, 8)).toBe(152064);
    expect(paddedVocab(1003, 2)).toBe(1024);
    expect(paddedVocab(100, 3)).toBe(192);
    const o = { hiddenSize: 16, width: 16, vocabSize: 1003, nPredict: 2, scaleInput: false, tieWeights: true, weightDtype: () => 'bf16' as const };
    const g = lstmSpeculator(o).graph;
    const p = shardVocabParallel(g, 4, 3);
    expect(p.shards).toEqual([{ param: 'head.0.weight', shardParam: 'head.0.weight', vocabSize: 1003, paddedVocab: 1024, rows: 256, start: 768, real: 235 }]);
    const head = graphNodes(p.graph).find((n) => n.op === 'param' && n.argOf('name') === 'head.0.weight')!;
    expect(head.shape).toEqual([256, 16]);
    // projections, norms and the (untied) embedding stay whole
    expect(graphNodes(p.graph).find((n) => n.op === 'param' && n.argOf('name') === 'forget_emb.0.weight')!.shape).toEqual([1003, 16]);
    // the gathered payload is 8 bytes (two f32) per row
    const ag = graphNodes(p.graph).filter((n) => n.op === 'all_gather');
    expect(ag.map((n) => n.shape)).toEqual([[4, 'B', 2], [4, 'B', 2]]);
    expect(ag.every((n) => n.dtype === 'f32')).toBe(true);
    const w = shardWeights(randomWeights(g, 1), p.shards).get('head.0.weight')!;
    expect(w.shape).toEqual([256, 16]);
    expect(Array.from((w.data as Uint16Array).subarray(235 * 16)).every((x) => x === 0)).toBe(true);
  });
  it('a graph without a head, or logits used besides their argmax, is refused by name', () => {
    const o = { hiddenSize: 16, width: 16, vocabSize: 64, nPredict: 2, scaleInput: false, tieWeights: true, weightDtype: () => 'bf16' as const };
    const g = lstmSpeculator(o).graph;
    expect(() => shardVocabParallel(g, 0, 0)).toThrow(/positive integer/);
    expect(() => shardVocabParallel(g, 2, 2)).toThrow(/rank must lie in \[0, 2\)/);
    expect(() => interpret(shardVocabParallel(g, 1, 0).graph, randomInputs(16, 64, 1, 1), randomWeights(g, 1))).toThrow(/exchanges data between ranks/);
  });
});
