// The one-sync Arctic step (runtime/engine/chained-draft.ts) on the fake CUDA driver: a toy target plan and a
// toy draft plan (tests/unit/cuda/plans.ts) on one fake device. The chained engine waits once per decode step
// (the target pass's stream sync covers the draft), gathers the drafter's hidden rows from the target's hidden
// output and patches the draft tokens into the verify rows device to device, and gives the same tokens and
// the same acceptance as the two-phase path (draft, wait, verify) and as no speculation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Program } from '../../../dsl/index.ts';
import type { LlamaConfig } from '../../../runtime/checkpoint/llama-config.ts';
import { createCudaBackend } from '../../../runtime/cuda/backend.ts';
import { openDevice, resetDeviceRegistry } from '../../../runtime/cuda/device.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { HybridProposer } from '../../../runtime/decoding/hybrid-proposer.ts';
import { ModelProposer } from '../../../runtime/decoding/model-proposer.ts';
import { Xoshiro128 } from '../../../runtime/decoding/rng.ts';
import type { Proposer } from '../../../runtime/decoding/proposer.ts';
import { StepDraft } from '../../../runtime/engine/chained-draft.ts';
import { SpeculativeEngine } from '../../../runtime/engine/engine.ts';
import type { EngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import { speculatorOver } from '../../../runtime/speculator.ts';
import type { CudaTargetBackend } from '../../../runtime/target/cuda-backend.ts';
import { cudaTargetBackendOver } from '../../../runtime/target/cuda-backend.ts';
import { KvSlots } from '../../../runtime/target/kv-slots.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { targetOver } from '../../../runtime/target/target-model.ts';
import { hostSyncs } from '../../../runtime/host-syncs.ts';
import { FakeCuda, FakeFault } from '../cuda/fake-driver.ts';
import { registerToyChainKernels, toyDraftPlan, toyNext, toyTargetPlan } from '../cuda/plans.ts';

const V = 97, SLOTS = 4, MAX_LEN = 64;
const CONFIG = { method: 'arctic', model: 'toy' } as EngineSpeculativeConfig;
const prompts = [[5, 17, 33], [2, 2, 2, 2, 2, 2], [41], [60, 7, 13, 29, 88]];

let fake: FakeCuda;
let dev: CudaDevice;
let backend: CudaTargetBackend;
let target: TargetModel;
let spec: Speculator;

function toyTarget(maxBatchTokens = 64, fusedSteps = true): TargetModel {
  backend = cudaTargetBackendOver(toyTargetPlan(maxBatchTokens, maxBatchTokens, V), new Map(), { driver: fake, maxTokens: maxBatchTokens, maxRows: maxBatchTokens, numLayers: 0, vocabSize: V, fusedSteps });
  const config = { hiddenSize: 2, vocabSize: V, eosTokenIds: [] } as unknown as LlamaConfig;
  return targetOver(config, {} as Program, backend, new KvSlots(SLOTS, MAX_LEN), maxBatchTokens, 'toy target');
}

function toySpeculator(maxBatch = SLOTS): Speculator {
  const b = createCudaBackend(toyDraftPlan(8), new Map(), { driver: fake, maxBatch });
  return speculatorOver(b, { config: null, program: {} as Program, hiddenSize: 2, vocabSize: V, nPredict: 3, maxBatch, description: 'toy draft' });
}

const engine = (p: Proposer | null): SpeculativeEngine => new SpeculativeEngine(target, p, p ? CONFIG : null, p ? 3 : 0);
const syncsIn = async <T>(f: () => Promise<T>): Promise<{ out: T; syncs: number; driverSyncs: number }> => {
  const s0 = hostSyncs(), c0 = fake.calls.filter((c) => c === 'cuStreamSynchronize').length;
  const out = await f();
  return { out, syncs: hostSyncs() - s0, driverSyncs: fake.calls.filter((c) => c === 'cuStreamSynchronize').length - c0 };
};

beforeEach(() => {
  resetDeviceRegistry();
  fake = new FakeCuda();
  registerToyChainKernels(fake, V);
  dev = openDevice({ driver: fake });
  target = toyTarget();
  spec = toySpeculator();
});
afterEach(() => { spec.close(); target.close(); dev.release(); });

describe('host work overlapped with a target pass (TargetRunOptions.whileRunning)', () => {
  const inputs = { tokens: Int32Array.of(5, 6), positions: Int32Array.of(0, 1), slots: Int32Array.of(0, 0), rows: Int32Array.of(0, 1) };
  it('runs after the pass is enqueued and before the stream sync', async () => {
    let seen: string[] = [];
    const n0 = fake.calls.length;
    const out = await backend.run(inputs, { logits: false, whileRunning: () => { seen = fake.calls.slice(n0); } });
    expect(seen.some((c) => c === 'cuGraphLaunch' || c === 'cuLaunchKernel')).toBe(true);
    expect(seen).not.toContain('cuStreamSynchronize');
    expect(fake.calls.slice(n0 + seen.length)).toContain('cuStreamSynchronize');
    expect([...out.nextTokens]).toEqual([toyNext(5, 0, V), toyNext(6, 1, V)]);
  });

  it('a hook that throws: the pass is waited for, the error is the run\'s, the next run works', async () => {
    const n0 = fake.calls.length;
    await expect(backend.run(inputs, { logits: false, whileRunning: () => { throw new Error('hook failed'); } })).rejects.toThrow('hook failed');
    expect(fake.calls.slice(n0)).toContain('cuStreamSynchronize');
    const out = await backend.run(inputs, { logits: false });
    expect([...out.nextTokens]).toEqual([toyNext(5, 0, V), toyNext(6, 1, V)]);
  });
});

describe('chained Arctic drafts on the fake CUDA device', () => {
  it('the target and the drafter share one stream, so the engine chains', () => {
    const e = engine(new ModelProposer(spec)).core();
    expect(e.chain).not.toBeNull();
    expect(engine(new ModelProposer(spec)).core({ chainedDrafts: false }).chain).toBeNull();
  });

  it('one stream sync per decode step; the same tokens and acceptance as the two-phase path and as no speculation', async () => {
    const o = { maxNewTokens: 20, stopTokenIds: [] as number[] };
    const plain = await engine(null).generate(prompts, o);
    const two = await syncsIn(() => engine(new ModelProposer(spec)).generate(prompts, { ...o, chainedDrafts: false }));
    const one = await syncsIn(() => engine(new ModelProposer(spec)).generate(prompts, o));
    // the toy target's own chain: each request continues toyNext from its prompt
    for (const [i, p] of prompts.entries()) {
      let t = p[p.length - 1];
      const want = Array.from({ length: 20 }, (_, j) => (t = toyNext(t, p.length - 1 + j, V)));
      expect(plain.outputs[i].tokenIds).toEqual(want);
    }
    expect(one.out.outputs.map((x) => x.tokenIds)).toEqual(plain.outputs.map((x) => x.tokenIds));
    expect(two.out.outputs.map((x) => x.tokenIds)).toEqual(plain.outputs.map((x) => x.tokenIds));
    // the drafts read back are the drafts the two-phase path made: acceptance identical, and some rejected
    expect(one.out.metrics.acceptance).toEqual(two.out.metrics.acceptance);
    expect(one.out.outputs.map((x) => x.acceptance)).toEqual(two.out.outputs.map((x) => x.acceptance));
    const acc = one.out.metrics.acceptance;
    expect(acc.numAcceptedTokens).toBeGreaterThan(0);
    expect(acc.numAcceptedTokens).toBeLessThan(acc.numDraftTokens);
    expect(one.out.metrics.syncsPerStep).toBe(1);
    expect(two.out.metrics.syncsPerStep).toBe(2);
    expect(plain.metrics.syncsPerStep).toBe(1);
    // every host sync is one driver stream sync: one per step, prefill steps included
    expect(one.driverSyncs).toBe(one.syncs);
    expect(one.syncs).toBe(one.out.metrics.steps);
    expect(target.slots.available).toBe(SLOTS);
  });

  it('unfused (fusedSteps false), the copies of two steps: hidden rows gathered from the last pass, the drafts patched into their verify rows', async () => {
    target.close();
    target = toyTarget(64, false);
    const hiddenOut = backend.executor.outputAddress('hidden');
    const tokensIn = backend.executor.address('tok');
    const inHidden = (x: { src: bigint }): boolean => x.src >= hiddenOut && x.src < hiddenOut + 64n * 8n;
    const inTokens = (x: { dst: bigint }): boolean => x.dst >= tokensIn && x.dst < tokensIn + 64n * 4n;
    const core = engine(new ModelProposer(spec)).core({ maxRunning: 2 });
    const marks: number[] = [];
    const accepted: number[][] = [];
    core.onStep = () => { marks.push(fake.dtod.length); accepted.push(rs.map((r) => r.metrics.numAcceptedTokens)); };
    // the first add starts the loop at once: step 1 prefills r0 alone; step 2 drafts r0 and prefills r1
    const rs = [prompts[0], prompts[3]].map((p, i) => core.add(p, { maxNewTokens: 30, stopTokenIds: [], name: `r${i}`, rng: new Xoshiro128(0, i) }));
    await core.idle();
    await Promise.all(rs.map((r) => r.done));
    expect(marks[0]).toBe(0); // step 1 drafts nothing
    const step2 = fake.dtod.slice(marks[0], marks[1]), step3 = fake.dtod.slice(marks[1], marks[2]);
    // step 2: r0's hidden is M row 0 of step 1's pass (its last prompt token); its draft goes to token rows 1..3
    expect(step2.filter(inHidden).map((x) => [Number(x.src - hiddenOut), x.bytes])).toEqual([[0, 8]]);
    expect(step2.filter(inTokens).map((x) => [Number(x.dst - tokensIn), x.bytes])).toEqual([[4, 12]]);
    // step 3: r0's hidden is its accepted row of step 2 (rows 0..3 were its verify rows), r1's is M row 4 (its
    // prefill's last token, after r0's four); the drafts land after each last token: rows 1..3 and 5..7
    const a0 = accepted[1][0];
    const g3 = step3.filter(inHidden).map((x) => [Number(x.src - hiddenOut), x.bytes]);
    expect(g3).toEqual(a0 === 3 ? [[24, 16]] : [[8 * a0, 8], [32, 8]]);
    const p3 = step3.filter(inTokens);
    expect(p3.map((x) => [Number(x.dst - tokensIn), x.bytes])).toEqual([[4, 12], [20, 12]]);
    expect(p3[1].src - p3[0].src).toBe(12n); // draft rows 0 and 1 of the [B, 3] i32 output
    expect(core.times.syncs).toBe(core.times.steps);
  });

  it('unfused, the gathered hidden equals the host copy, and the verify rows hold the drafts the device made', async () => {
    target.close();
    target = toyTarget(64, false);
    const draws: { hidden: number[]; host: number[]; tokens: number[]; drafts: number[] }[] = [];
    const verify: number[][] = [];
    const draftKernel = fake.kernels.get('toy_draft')!, targetKernel = fake.kernels.get('toy_target')!;
    const core = engine(new ModelProposer(spec)).core({ maxRunning: 2 });
    const rs = [prompts[0], prompts[3]].map((p, i) => core.add(p, { maxNewTokens: 30, stopTokenIds: [], name: `r${i}`, rng: new Xoshiro128(0, i) }));
    // (the first pass of each size also runs eagerly before its graph is captured: only replays are recorded)
    fake.kernels.set('toy_draft', (k) => {
      const B = k.u32(3);
      draftKernel(k);
      if (!fake.replaying) return;
      // the fake runs kernels at launch: the host copies are the previous step's
      const host = rs.filter((r) => r.hidden !== null).slice(0, B).flatMap((r) => [...r.hidden!]);
      draws.push({ hidden: [...k.f32s(k.u64(1), B * 2)], host, tokens: [...k.i32s(k.u64(2), B)], drafts: [...k.i32s(k.u64(0), B * 3)] });
    });
    fake.kernels.set('toy_target', (k) => { if (fake.replaying) verify.push([...k.i32s(k.u64(2), 8)]); targetKernel(k); });
    await core.idle();
    await Promise.all(rs.map((r) => r.done));
    expect(draws.length).toBeGreaterThan(4);
    // steps 2..5 (both running from step 3 on, every draft verified whole)
    for (let s = 0; s < 4; s++) {
      const d = draws[s];
      expect(d.hidden).toEqual(d.host);
      const B = d.tokens.length;
      expect(B).toBe(s === 0 ? 1 : 2);
      // verify pass s + 1 (pass 0 was step 1's prefill): [last, d0, d1, d2] per drafted request
      for (let i = 0; i < B; i++) expect(verify[s + 1].slice(4 * i, 4 * i + 4)).toEqual([d.tokens[i], ...d.drafts.slice(3 * i, 3 * i + 3)]);
    }
  });

  it('fused (the default): a decode step is one host-to-device copy, one graph launch, one device-to-host copy, one sync', async () => {
    expect(target.chain!.fusesDrafts).toBe(true);
    const core = engine(new ModelProposer(spec)).core({ maxRunning: 2 });
    const marks: number[] = [];
    core.onStep = () => { marks.push(fake.calls.length); };
    const rs = [prompts[0], prompts[3]].map((p, i) => core.add(p, { maxNewTokens: 30, stopTokenIds: [], name: `r${i}`, rng: new Xoshiro128(0, i) }));
    await core.idle();
    await Promise.all(rs.map((r) => r.done));
    const steps = marks.slice(1).map((m, i) => fake.calls.slice(marks[i], m));
    const count = (c: string[], name: string): number => c.filter((x) => x === name).length;
    // steady state: both running, every graph captured (the first step at a shape runs eagerly, then captures)
    const steady = steps.slice(4, 8);
    expect(steady.length).toBe(4);
    for (const c of steady) {
      expect(count(c, 'cuMemcpyHtoDAsync_v2')).toBe(1);
      expect(count(c, 'cuGraphLaunch')).toBe(1);
      expect(count(c, 'cuMemcpyDtoHAsync_v2')).toBe(1);
      expect(count(c, 'cuMemcpyDtoDAsync_v2')).toBe(0);
      expect(count(c, 'cuMemsetD8Async')).toBe(0);
      expect(count(c, 'cuStreamSynchronize')).toBe(1);
    }
    expect(core.times.syncs).toBe(core.times.steps);
  });

  it('fused: the gathered hidden equals the host copy, the verify rows hold the drafts the device made, the host reads them back', async () => {
    const draws: { hidden: number[]; host: number[]; tokens: number[]; drafts: number[] }[] = [];
    const verify: number[][] = [];
    const draftKernel = fake.kernels.get('toy_draft')!, targetKernel = fake.kernels.get('toy_target')!;
    const core = engine(new ModelProposer(spec)).core({ maxRunning: 2 });
    const rs = [prompts[0], prompts[3]].map((p, i) => core.add(p, { maxNewTokens: 30, stopTokenIds: [], name: `r${i}`, rng: new Xoshiro128(0, i) }));
    // a fused step's first run at a shape is the step itself (no warm-up replay): every launch is recorded
    fake.kernels.set('toy_draft', (k) => {
      const B = rs.filter((r) => r.hidden !== null).length;
      draftKernel(k);
      const host = rs.filter((r) => r.hidden !== null).slice(0, B).flatMap((r) => [...r.hidden!]);
      draws.push({ hidden: [...k.f32s(k.u64(1), B * 2)], host, tokens: [...k.i32s(k.u64(2), B)], drafts: [...k.i32s(k.u64(0), B * 3)] });
    });
    // the verify pass of each draft: the next target launch (a plain prefill step's graph warm-up runs its pass twice)
    fake.kernels.set('toy_target', (k) => { if (verify.length < draws.length) verify.push([...k.i32s(k.u64(2), 8)]); targetKernel(k); });
    await core.idle();
    await Promise.all(rs.map((r) => r.done));
    expect(draws.length).toBeGreaterThan(4);
    for (let s = 0; s < 4; s++) {
      const d = draws[s];
      expect(d.hidden).toEqual(d.host);
      const B = d.tokens.length;
      expect(B).toBe(s === 0 ? 1 : 2);
      for (let i = 0; i < B; i++) expect(verify[s].slice(4 * i, 4 * i + 4)).toEqual([d.tokens[i], ...d.drafts.slice(3 * i, 3 * i + 3)]);
    }
    const plain = await engine(null).generate([prompts[0], prompts[3]], { maxNewTokens: 30, stopTokenIds: [] });
    expect(rs.map((r) => r.tokens.slice(r.prompt.length))).toEqual(plain.outputs.map((x) => x.tokenIds));
  });

  it('the hybrid drafts its model rows on the device too: same tokens and acceptance, one sync per step', async () => {
    const o = { maxNewTokens: 20, stopTokenIds: [] as number[] };
    const hybrid = () => new HybridProposer({ model: spec, maxTreeDepth: 8, maxCachedRequests: 8 });
    const two = await engine(hybrid()).generate(prompts, { ...o, chainedDrafts: false });
    const one = await engine(hybrid()).generate(prompts, o);
    expect(one.outputs.map((x) => x.tokenIds)).toEqual(two.outputs.map((x) => x.tokenIds));
    expect(one.metrics.acceptance).toEqual(two.metrics.acceptance);
    expect(one.metrics.acceptanceBySource).toEqual(two.metrics.acceptanceBySource);
    expect(one.metrics.syncsPerStep).toBe(1);
    expect(two.metrics.syncsPerStep).toBeGreaterThanOrEqual(1);
  });

  it('a pass too large for one submission falls back to the two-phase draft for that step, tokens unchanged', async () => {
    target.close();
    target = toyTarget(8); // 4 requests × 4 verify rows = 16 rows > 8: every full decode step needs two passes
    const o = { maxNewTokens: 10, stopTokenIds: [] as number[] };
    const plain = await engine(null).generate(prompts, o);
    const one = await engine(new ModelProposer(spec)).generate(prompts, o);
    const two = await engine(new ModelProposer(spec)).generate(prompts, { ...o, chainedDrafts: false });
    expect(one.outputs.map((x) => x.tokenIds)).toEqual(plain.outputs.map((x) => x.tokenIds));
    expect(one.metrics.acceptance).toEqual(two.metrics.acceptance);
    expect(one.metrics.syncsPerStep).toBeGreaterThan(1);
    expect(target.slots.available).toBe(SLOTS);
  });

  it('an out-of-range draft token fails the step naming the request; no KV slot is left held', async () => {
    fake.kernels.set('toy_draft', (k) => { const B = k.u32(3); k.i32s(k.u64(0), B * 3).fill(V + 5); });
    const r = engine(new ModelProposer(spec)).generate([prompts[0], prompts[1]], { maxNewTokens: 8, stopTokenIds: [] });
    await expect(r).rejects.toThrow(/draft model: prompt 0 position 0: token 102 outside \[0, 97\)/);
    expect(target.slots.available).toBe(SLOTS);
  });

  it('a device fault in the chained step names its requests; no KV slot is left held', async () => {
    fake.kernels.set('toy_draft', () => { throw new FakeFault(700); });
    const r = engine(new ModelProposer(spec)).generate([prompts[0], prompts[1]], { maxNewTokens: 8, stopTokenIds: [] });
    await expect(r).rejects.toThrow(/CUDA_ERROR_ILLEGAL_ADDRESS[\s\S]*\(chained draft of prompt 0\)/);
    expect(target.slots.available).toBe(SLOTS);
  });

  it('a hidden row a later pass overwrote is staged from its host copy; the rows are checked', () => {
    const chain = engine(new ModelProposer(spec)).core().chain!;
    const row = (name: string, pass: number, token: number) => ({ name, hidden: Float32Array.of(token, 1), hiddenRef: { pass, row: 0 }, token });
    // target.chain knows no pass yet (0 runs): every ref is stale, so the draft stages the host copies
    const d = new StepDraft(chain, [row('x', 5, 10), row('y', 5, 11)]);
    expect(d.hiddenOnDevice).toBe(false);
    d.enqueue();
    dev.synchronize();
    const drafts = d.collect();
    expect(drafts.map((x) => [...x])).toEqual([10, 11].map((t) => { let x = t; return [0, 1, 2].map((j) => { x = toyNext(x, 2 + j, V); if ((1 + j) % 4 === 0 || (j === 2 && t % 2 === 1)) x = (x + 1) % V; return x; }); }));
    expect(() => new StepDraft(chain, [{ ...row('z', 5, 3), hidden: new Float32Array(5) }])).toThrow(/draft model: z has a hidden state of length 5, expected 2/);
  });

  it('forward refuses device tokens without a draft, and a draft that needs two passes', async () => {
    target.close();
    target = toyTarget(8);
    const seq = target.newSequence('s');
    try {
      await expect(target.forward([{ seq, tokens: [1, 0], want: 'all', deviceTokens: { from: 1, row: 0, count: 1 } }])).rejects.toThrow(/device tokens .* without a draft/);
      const never = { enqueue: () => { throw new Error('not reached'); } };
      await expect(target.forward([{ seq, tokens: new Array(9).fill(1), want: 'all' }], { draft: never })).rejects.toThrow(/needs one pass, but 9 token rows exceed maxBatchTokens 8/);
      expect(seq.length).toBe(0);
    } finally {
      seq.close();
    }
  });
});
