// Batching is invisible, prefill equals token-by-token decode, rollback restores state: on the CPU
// backend with the real fixture (short prompts of different lengths keep it fast).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../../runtime/engine/generate.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { devPrompts, TARGET_DIR } from '../../support/target.ts';

let target: TargetModel;
const dev = devPrompts();
/** 33 prompts of lengths 3 … 35 from different held-out files */
const prompts = Array.from({ length: 33 }, (_, i) => dev[i].slice(0, 3 + ((i * 7) % 33)));
const NEW = 5;

beforeAll(async () => {
  target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 64, maxNumSeqs: 16, maxBatchTokens: 96 });
}, 120_000);
afterAll(() => target?.close());

describe('batched requests produce exactly what each produces alone', () => {
  let alone: number[][];
  beforeAll(async () => {
    alone = [];
    for (const p of prompts) alone.push((await generate(target, [p], { maxNewTokens: NEW, stopTokenIds: [] })).outputs[0].tokenIds);
  }, 120_000); // 33 requests one at a time on the CPU interpreter: ~9 s alone, more on a loaded machine
  for (const B of [1, 4, 16, 33]) {
    it(`B = ${B}${B > 16 ? ' (more requests than the 16 slots: admitted as slots free up)' : ''}`, async () => {
      const { outputs } = await generate(target, prompts.slice(0, B), { maxNewTokens: NEW, stopTokenIds: [] });
      outputs.forEach((o, i) => expect(o.tokenIds, `request ${i}`).toEqual(alone[i]));
      expect(target.slots.inUse).toBe(0);
    });
  }

  it('sampling with per-request seeds gives each request the same tokens alone and batched', async () => {
    const o = { maxNewTokens: NEW, stopTokenIds: [], temperature: 0.8, topK: 20 };
    const seeds = [11, 12, 13, 14];
    const batched = (await generate(target, prompts.slice(0, 4), { ...o, seeds })).outputs;
    for (let i = 0; i < 4; i++) {
      const solo = (await generate(target, [prompts[i]], { ...o, seeds: [seeds[i]] })).outputs[0];
      expect(solo.tokenIds, `request ${i}`).toEqual(batched[i].tokenIds);
    }
    // and the samples are not the greedy tokens: the sampler ran
    const greedy = (await generate(target, prompts.slice(0, 4), { maxNewTokens: NEW, stopTokenIds: [] })).outputs;
    expect(batched.map((x) => x.tokenIds)).not.toEqual(greedy.map((x) => x.tokenIds));
  });
});

describe('one prefill pass equals token-by-token decode', () => {
  it('same logits, hidden states and KV cache, bit for bit', async () => {
    const p = dev[40].slice(0, 24);
    const a = target.newSequence('one pass'), b = target.newSequence('token by token');
    try {
      const [whole] = await target.forward([{ seq: a, tokens: p, want: 'all' }], { logits: true });
      const steps = [];
      for (const t of p) steps.push((await target.forward([{ seq: b, tokens: [t], want: 'last' }], { logits: true }))[0]);
      const V = target.vocabSize, H = target.hiddenSize;
      steps.forEach((s, j) => {
        expect(s.logits).toEqual(whole.logits!.slice(j * V, (j + 1) * V));
        expect(s.hidden).toEqual(whole.hidden.slice(j * H, (j + 1) * H));
        expect(s.nextTokens[0]).toBe(whole.nextTokens[j]);
      });
      for (let l = 0; l < target.config.numLayers; l++) {
        for (const kind of ['key', 'value'] as const) {
          const c = target.readCache(l, kind);
          const row = (c.data.length / c.shape[0]);
          const sa = c.data.slice(a.slot * row, a.slot * row + p.length * row / c.shape[1]);
          const sb = c.data.slice(b.slot * row, b.slot * row + p.length * row / c.shape[1]);
          expect(sb, `layer ${l} ${kind}`).toEqual(sa);
        }
      }
    } finally { a.close(); b.close(); }
  });
});

describe('rollback', () => {
  it('decode r tokens, roll back r, decode again: identical KV and outputs', async () => {
    const p = dev[50].slice(0, 20);
    const seq = target.newSequence('rollback');
    try {
      const [pre] = await target.forward([{ seq, tokens: p, want: 'last' }]);
      const draft = [pre.nextTokens[0], 17, 99, 1234];
      const snapshot = () => Array.from({ length: target.config.numLayers }, (_, l) => target.readCache(l, 'key').data.slice());
      const [first] = await target.forward([{ seq, tokens: draft, want: 'all' }], { logits: true });
      const kv1 = snapshot();
      seq.rollback(draft.length);
      expect(seq.length).toBe(p.length);
      // a different continuation in between overwrites the same positions
      await target.forward([{ seq, tokens: [5, 6], want: 'last' }]);
      seq.rollback(2);
      const [again] = await target.forward([{ seq, tokens: draft, want: 'all' }], { logits: true });
      expect(again.logits).toEqual(first.logits);
      expect(again.hidden).toEqual(first.hidden);
      snapshot().forEach((k, l) => expect(k, `layer ${l}`).toEqual(kv1[l]));
      expect(() => seq.rollback(seq.length + 1)).toThrow(/cannot roll back 25 of 24 cached tokens/);
    } finally { seq.close(); }
  });
});
