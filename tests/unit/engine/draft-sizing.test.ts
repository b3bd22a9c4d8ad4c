// Per-step draft sizing: the cap it picks from measured pass costs and acceptance, backing off where
// drafting does not pay, and the engine's outputs unchanged with it on.
import { describe, expect, it } from 'vitest';
import { DraftSizer } from '../../../runtime/engine/draft-sizing.ts';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { TARGET_DIR } from '../../support/target.ts';
import { workloads } from '../../support/workloads.ts';

const teach = (s: DraftSizer, rate: number, n = 200): void => {
  for (let i = 0; i < n; i++) s.observeAcceptance('suffix', 8, Math.random() < rate ? 8 : 0);
};

describe('DraftSizer', () => {
  it('verifies whole drafts when extra rows are nearly free and drafts hit', () => {
    const s = new DraftSizer();
    for (const rows of [1, 2, 4, 8, 16, 32, 64]) for (let i = 0; i < 2; i++) s.observePass(rows, 0.2 + 0.0001 * rows);
    teach(s, 0.9);
    expect(s.choose(new Array(16).fill(8), new Array(16).fill('suffix'))).toBe(8);
  });
  it('verifies nothing when rows cost in proportion and drafts miss, then stops drafting there for a while', () => {
    const s = new DraftSizer();
    for (const rows of [1, 2, 4, 8, 16, 32, 64, 128]) {
      s.observePass(rows, 50); // the first pass at a size pays for its graph capture: not a cost estimate
      s.observePass(rows, 0.05 * rows);
    }
    teach(s, 0.05);
    expect(s.shouldDraft(16)).toBe(true);
    expect(s.choose(new Array(16).fill(8), new Array(16).fill('suffix'))).toBe(0);
    let skipped = 0;
    for (let i = 0; i < 64; i++) if (!s.shouldDraft(16)) skipped++;
    expect(skipped).toBe(63);
    expect(s.shouldDraft(16)).toBe(true); // retried: whole drafts, to measure again
    expect(s.choose(new Array(16).fill(8), new Array(16).fill('suffix'))).toBe(8);
    expect(s.shouldDraft(32)).toBe(true); // other batch sizes are unaffected
  });
  it('small batches verify whole drafts whatever the estimates', () => {
    const s = new DraftSizer();
    for (const rows of [1, 2, 4, 8, 16, 32]) { s.observePass(rows, 9); s.observePass(rows, 0.05 * rows); }
    teach(s, 0.01);
    expect(s.shouldDraft(4)).toBe(true);
    expect(s.choose([8, 8, 8, 8], ['suffix', 'suffix', 'suffix', 'suffix'])).toBe(8);
  });
  it('expected acceptance is the product of per-position rates, with an optimistic prior where unmeasured', () => {
    const s = new DraftSizer();
    expect(s.expectedAccepted('arctic', 2, 3)).toBeCloseTo(0.5 + 0.25, 10);
    for (let i = 0; i < 98; i++) s.observeAcceptance('arctic', 3, i < 49 ? 3 : 0);
    // position 0: 49 of 98 (+1/+2 prior) ≈ 0.5; positions 1 and 2: 49 of 49 (+1/+2) ≈ 0.98
    const e = s.expectedAccepted('arctic', 3, 3);
    expect(e).toBeGreaterThan(1.4);
    expect(e).toBeLessThan(1.5);
    expect(s.expectedAccepted('arctic', 3, 0)).toBe(0);
  });
  it('per request: the rows go to the likely positions, a long hitting suffix draft keeps them, a weak model draft gets none', () => {
    const s = new DraftSizer();
    const cost = (rows: number): number => 0.3 + 0.004 * rows;
    for (const rows of [16, 32, 48, 64, 96, 128, 160, 192, 256, 320]) for (let i = 0; i < 2; i++) s.observePass(rows, cost(rows));
    for (let i = 0; i < 400; i++) s.observeAcceptance('suffix', 12, i % 10 < 9 ? 12 : 0); // 90 % all 12 accepted
    for (let i = 0; i < 400; i++) s.observeAcceptance('arctic', 3, i % 10 < 2 ? 1 : 0); // 20 % the first, never more
    const lens = [...new Array(8).fill(12), ...new Array(24).fill(3)];
    const src = [...new Array(8).fill('suffix'), ...new Array(24).fill('arctic')];
    const caps = s.chooseCaps(lens, src);
    expect(caps.slice(0, 8)).toEqual(new Array(8).fill(12));
    expect(caps.slice(8)).toEqual(new Array(24).fill(0));
    // one cap for all (the old rule) would have had to choose between cutting the suffix drafts and
    // verifying every model draft; choose() is the largest per-request cap
    expect(s.choose(lens, src)).toBe(12);
  });
  it('per request: a request\'s caps are a prefix of its draft, and the caps add up to the rows chosen', () => {
    const s = new DraftSizer();
    for (const rows of [16, 24, 32, 40, 48, 56, 64, 80, 96]) for (let i = 0; i < 2; i++) s.observePass(rows, 0.3 + 0.01 * rows);
    for (let i = 0; i < 300; i++) s.observeAcceptance('suffix', 6, i % 3);
    const lens = Array.from({ length: 16 }, (_, i) => i % 7);
    const caps = s.chooseCaps(lens, new Array(16).fill('suffix'));
    caps.forEach((k, i) => { expect(k).toBeGreaterThanOrEqual(0); expect(k).toBeLessThanOrEqual(lens[i]); });
    // the same source: every request is cut at the same position or keeps all of a shorter draft
    const cut = Math.max(...caps);
    caps.forEach((k, i) => expect(k === lens[i] || k >= cut - 1).toBe(true));
  });
  it('unmeasured pass sizes: the full drafts first', () => {
    expect(new DraftSizer().choose([3, 5], ['arctic', 'suffix'])).toBe(5);
  });
  it('with only full-draft passes measured, verifies no draft until the no-draft pass is measured, then compares', () => {
    const s = new DraftSizer();
    const cost = (rows: number): number => 0.3 + 0.007 * rows; // 32 rows 0.52 ms, 128 rows 1.2 ms
    for (let i = 0; i < 3; i++) s.observePass(128, cost(128)); // 32 requests, 3 tokens of draft each
    for (let i = 0; i < 200; i++) s.observeAcceptance('arctic', 3, i % 100 < 47 ? (i % 100 < 20 ? (i % 100 < 9 ? 3 : 2) : 1) : 0);
    const lens = new Array(32).fill(3), src = new Array(32).fill('arctic');
    expect(s.choose(lens, src)).toBe(0);
    s.observePass(32, 40); // graph capture
    expect(s.choose(lens, src)).toBe(0);
    s.observePass(32, cost(32));
    // acceptance 0.47, then 0.43 and 0.45 of those: k = 1 gives 32·1.47 tokens in ~0.75 ms, more per ms than
    // k = 0 (32 in 0.52) or k = 3 (32·1.70 in 1.2)
    expect(s.choose(lens, src)).toBe(1);
  });
});

describe('the engine with dynamic draft length', () => {
  it('gives plain greedy decoding\'s tokens on the CPU backend', async () => {
    const target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 512, maxNumSeqs: 2 });
    try {
      const w = workloads();
      const prompts = [w.repeat.prompts[2].slice(-96), w.code.prompts[3].slice(-64)];
      const plain = (await (await attachDrafter(target, null)).engine.generate(prompts, { maxNewTokens: 24, stopTokenIds: [] })).outputs;
      const d = await attachDrafter(target, parseEngineSpeculativeConfig({ method: 'suffix', dynamic_draft_length: true }));
      const { outputs } = await d.engine.generate(prompts, { maxNewTokens: 24, stopTokenIds: [] });
      expect(outputs.map((o) => o.tokenIds)).toEqual(plain.map((o) => o.tokenIds));
    } finally { target.close(); }
  }, 120_000);
});
