// The one-sync Arctic step with real compiled plans, simulated: a 1-layer tiny Llama (bench/make-llama-checkpoint.ts)
// and the lstm-tiny Arctic speculator (H 64, V 512: the tiny shape's) both on one fake CUDA device whose
// kernels are the plans' own PTX run on the PTX machine (tests/unit/cuda/sim-cuda.ts). The chained engine
// (draft enqueued in front of the verify pass) gives the two-phase engine's tokens and acceptance, and plain
// greedy decoding's tokens, with one stream sync per decode step against two.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CudaDevice, OpenDeviceOptions } from '../../../runtime/cuda/device.ts';
import { attachDrafter } from '../../../runtime/engine/load-engine.ts';
import { parseEngineSpeculativeConfig } from '../../../runtime/engine/speculative-config.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { tinySimTarget } from '../cuda/sim-cuda.ts';

const fake = vi.hoisted(() => ({ driver: null as unknown }));
vi.mock('../../../runtime/select-device.ts', () => ({ selectDevice: async () => ({ device: 'cuda' }) }));
vi.mock('../../../runtime/cuda/device.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../runtime/cuda/device.ts')>();
  return { ...real, openDevice: (o: OpenDeviceOptions = {}): CudaDevice => real.openDevice({ ...o, driver: fake.driver as OpenDeviceOptions['driver'] }) };
});

/** fused steps run so far (runtime/cuda/step-graph.ts: each starts with chain_gather) */
const fusedSteps = (): number => (fake.driver as { launches: string[] }).launches.filter((n) => n === 'arcticc_chain_gather').length;

const SPEC_DIR = fileURL('../../fixtures/speculators/lstm-tiny');
function fileURL(rel: string): string { return new URL(rel, import.meta.url).pathname; }

describe('chained Arctic drafts, simulated CUDA (tiny Llama + lstm-tiny on the PTX machine)', () => {
  let dir = '';
  let target: TargetModel;
  let spec: Speculator;
  let remove = (): void => {};
  beforeAll(async () => {
    let sim;
    ({ dir, sim, remove } = tinySimTarget('arcticc-chain-sim-'));
    fake.driver = sim;
    target = await loadTarget({ model: dir, device: 'cuda', maxNumSeqs: 2, maxModelLen: 48, maxBatchTokens: 16, quiet: true });
    spec = await loadSpeculator({ model: SPEC_DIR, device: 'cuda', maxBatch: 2, quiet: true });
  }, 300_000);
  afterAll(() => { spec?.close(); target?.close(); remove(); });

  it('the same tokens and acceptance as the two-phase path and plain decoding; one sync per decode step', async () => {
    expect(target.chain).toBeDefined();
    expect(spec.deviceDrafting?.chainKey).toBe(target.chain!.key);
    const prompts = [[3, 77, 140, 9, 301], [500, 12, 12, 12]];
    const o = { maxNewTokens: 6, stopTokenIds: [] as number[] };
    const plain = await (await attachDrafter(target, null)).engine.generate(prompts, o);
    // the drafts each path made, row by row: [last token, ...draft]
    const drafted: { two: number[][]; one: number[][] } = { two: [], one: [] };
    const rowsOf = (tokens: Int32Array, ids: Int32Array): number[][] => [...tokens].map((t, i) => [t, ...ids.subarray(3 * i, 3 * i + 3)]);
    const d = spec.deviceDrafting!;
    // a wrapper without the drafter's port: the unfused chain (the draft's own graph and copies in front of the pass)
    const recording: Speculator = {
      ...spec,
      async propose(req) { const ids = await spec.propose(req); drafted.two.push(...rowsOf(req.tokens as Int32Array, ids)); return ids; },
      deviceDrafting: {
        chainKey: d.chainKey, maxBatch: d.maxBatch,
        enqueue(hidden, tokens) {
          const e = d.enqueue(hidden, tokens);
          return { ...e, tokenAddress: e.tokenAddress, discard: e.discard, collect: () => { const ids = e.collect(); drafted.one.push(...rowsOf(tokens, ids)); return ids; } };
        },
      },
    };
    const arctic = await attachDrafter(target, parseEngineSpeculativeConfig({ method: 'arctic', model: SPEC_DIR }), recording);
    const two = await arctic.engine.generate(prompts, { ...o, chainedDrafts: false });
    const one = await arctic.engine.generate(prompts, o);
    // the chained path drafts the rows the two-phase path drafts, less those with no room left (k = 0)
    expect(drafted.one.length).toBeGreaterThan(4);
    let at = 0;
    for (const row of drafted.two) if (at < drafted.one.length && row.every((x, i) => x === drafted.one[at][i])) at++;
    expect(at).toBe(drafted.one.length);
    expect(one.outputs.map((x) => x.tokenIds)).toEqual(plain.outputs.map((x) => x.tokenIds));
    expect(two.outputs.map((x) => x.tokenIds)).toEqual(plain.outputs.map((x) => x.tokenIds));
    expect(one.metrics.acceptance).toEqual(two.metrics.acceptance);
    expect(one.metrics.acceptance.numDraftTokens).toBeGreaterThan(0);
    expect(one.metrics.syncsPerStep).toBe(1);
    expect(two.metrics.syncsPerStep).toBe(2);
    expect(target.slots.available).toBe(2);
  }, 600_000);

  it('sampled (temperature 0.8, one seed): the same tokens and acceptance chained and two-phase', async () => {
    const prompts = [[3, 77, 140, 9, 301], [500, 12, 12, 12]];
    const o = { maxNewTokens: 6, stopTokenIds: [] as number[], temperature: 0.8, seed: 7 };
    const arctic = await attachDrafter(target, parseEngineSpeculativeConfig({ method: 'arctic', model: SPEC_DIR }), spec);
    const two = await arctic.engine.generate(prompts, { ...o, chainedDrafts: false });
    const f0 = fusedSteps();
    const one = await arctic.engine.generate(prompts, o);
    // the speculator itself (not a recording wrapper): its draft runs inside the target's step graph
    expect(fusedSteps()).toBeGreaterThan(f0);
    expect(one.outputs.map((x) => x.tokenIds)).toEqual(two.outputs.map((x) => x.tokenIds));
    expect(one.metrics.acceptance).toEqual(two.metrics.acceptance);
    expect(one.metrics.syncsPerStep).toBe(1);
  }, 600_000);

  it('Arctic + suffix: its model rows chained, plain decoding\'s tokens, one sync per decode step', async () => {
    const prompts = [[3, 77, 140, 9, 301, 3, 77, 140], [500, 12, 12, 12]];
    const o = { maxNewTokens: 6, stopTokenIds: [] as number[] };
    const plain = await (await attachDrafter(target, null)).engine.generate(prompts, o);
    // one drafter per run: a suffix cache remembers the responses of the run before
    const config = parseEngineSpeculativeConfig({ method: 'arctic', model: SPEC_DIR, enable_suffix_decoding: true });
    const hybrid = await attachDrafter(target, config, spec);
    expect(hybrid.engine.core().chain).not.toBeNull();
    const two = await (await attachDrafter(target, config, spec)).engine.generate(prompts, { ...o, chainedDrafts: false });
    const f0 = fusedSteps();
    const one = await hybrid.engine.generate(prompts, o);
    expect(fusedSteps()).toBeGreaterThan(f0);
    expect(one.outputs.map((x) => x.tokenIds)).toEqual(plain.outputs.map((x) => x.tokenIds));
    expect(one.metrics.acceptanceBySource).toEqual(two.metrics.acceptanceBySource);
    expect(one.metrics.syncsPerStep).toBe(1);
  }, 600_000);
});
