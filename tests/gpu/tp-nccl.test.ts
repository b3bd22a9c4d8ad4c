// Tensor parallelism through the real NCCL path on one GPU: TP = 1 as a one-rank communicator whose
// ncclAllGather is a node of the captured CUDA graph. (a) loadSpeculator({ tensorParallel: 1, device:
// 'cuda' }) (one worker process owning the GPU) drafts exactly the plain CUDA speculator's tokens, and
// the fixtures' expected ones, on every fixture at batch 1 and 32; so does the RankExecutor in this
// process. (b) A worker killed mid-proposal (fault injection, or SIGKILL from outside) or hung past the
// collective timeout fails the proposal with one TensorParallelError, no process is left behind, and the
// speculator stays failed. (c) This process's CUDA context stays usable throughout.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/commands/main.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { shardVocabParallel, shardWeights } from '../../compiler/passes/tensor-parallel.ts';
import { loadCheckpoint } from '../../runtime/checkpoint/index.ts';
import { compileRankStages, compileSpeculator } from '../../runtime/compile-speculator.ts';
import type { CudaDevice } from '../../runtime/cuda/device.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { PlanExecutor } from '../../runtime/cuda/executor.ts';
import { RankExecutor } from '../../runtime/cuda/rank-executor.ts';
import { ensureNvlsDisabled, loadNccl, NcclCommunicator } from '../../runtime/nccl/nccl.ts';
import type { Speculator } from '../../runtime/speculator.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import { programFor } from '../../runtime/speculator-program.ts';
import { TensorParallelError } from '../../runtime/tp/supervisor.ts';
import type { FixtureName } from '../support/fixtures.ts';
import { FIXTURES, fixtureCases, fixtureDir } from '../support/fixtures.ts';
import { describeGpuCompiled } from './gpu-env.ts';

type TpSpeculator = Speculator & { workerPids: readonly number[]; workersExited: Promise<void> };

const isRunning = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
/** the pids whose parent is `pid` (from /proc) */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}
const bounded = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what} took over ${ms} ms`)), ms))]);

/** B rows cycling through the cases from `start`; expected B×n row-major */
function batch(name: FixtureName, B: number, start = 0): { hidden: Float32Array; tokens: Int32Array; expected: number[] } {
  const { cases } = fixtureCases(name);
  const rowsOf = Array.from({ length: B }, (_, i) => cases[(start + i) % cases.length]);
  return { hidden: Float32Array.from(rowsOf.flatMap((c) => c.hidden)), tokens: Int32Array.from(rowsOf.map((c) => c.token)), expected: rowsOf.flatMap((c) => c.expected) };
}

async function loadTp(name: FixtureName, o: Partial<Parameters<typeof loadSpeculator>[0]> = {}): Promise<TpSpeculator> {
  return await loadSpeculator({ model: fixtureDir(name), device: 'cuda', tensorParallel: 1, maxBatch: 32, quiet: true, collectiveTimeoutMs: 20_000, ...o }) as TpSpeculator;
}

describeGpuCompiled('tensor parallel through NCCL on one GPU', () => {
  // the parent's own CUDA context, held across every test (c)
  let dev: CudaDevice;
  const plain = new Map<FixtureName, Speculator>();
  beforeAll(async () => {
    ensureNvlsDisabled(); // this process holds a communicator too (the in-process test)
    dev = openDevice();
    for (const name of FIXTURES) plain.set(name, await loadSpeculator({ model: fixtureDir(name), device: 'cuda', maxBatch: 32, quiet: true }));
  }, 120_000);
  afterAll(() => {
    for (const s of plain.values()) s.close();
    dev?.release();
  });

  describe('(a) TP = 1 through a one-rank NCCL communicator equals the plain tokens', () => {
    for (const name of FIXTURES) {
      it(`${name}: loadSpeculator({ tensorParallel: 1, device: 'cuda' }) at batch 1 (every case) and 32`, async () => {
        const tp = await loadTp(name);
        try {
          expect(tp.device).toBe('cuda');
          expect(tp.deviceDescription).toMatch(/NCCL all-gather per step inside one CUDA graph/);
          expect(tp.workerPids).toHaveLength(1);
          expect(readFileSync(`/proc/${tp.workerPids[0]}/environ`, 'latin1').split('\0')).toContain('NCCL_NVLS_ENABLE=0');
          const p = plain.get(name)!;
          const n = tp.numSpeculativeTokens;
          for (let c = 0; c < fixtureCases(name).cases.length; c++) {
            const b = batch(name, 1, c);
            const [got, ref] = [await tp.propose(b), await p.propose(b)];
            expect([...got], `${name} B=1 case ${c}`).toEqual([...ref]);
            expect([...got], `${name} B=1 case ${c} (expected)`).toEqual(b.expected);
          }
          for (const start of [0, 5]) {
            const b = batch(name, 32, start);
            const [got, ref] = [await tp.propose(b), await p.propose(b)];
            expect(got.length).toBe(32 * n);
            expect([...got], `${name} B=32 from ${start}`).toEqual([...ref]);
            expect([...got], `${name} B=32 from ${start} (expected)`).toEqual(b.expected);
          }
        } finally {
          tp.close();
          await bounded(tp.workersExited, 10_000, 'the worker exiting after close');
        }
        expect(tp.workerPids.filter(isRunning)).toEqual([]);
      });
    }

    it('arcticc propose --tp 1 --device cuda drafts the expected tokens', async () => {
      const { cases } = fixtureCases('lstm-wide-input');
      const input = join(mkdtempSync(join(tmpdir(), 'arcticc-gpu-tp-')), 'req.json');
      writeFileSync(input, JSON.stringify({ hidden: cases.map((c) => c.hidden), tokens: cases.map((c) => c.token) }));
      let out = '';
      const code = await main(['propose', '--model', fixtureDir('lstm-wide-input'), '--input', input, '--tp', '1', '--device', 'cuda', '--json'], { out: (x) => { out += x; }, err: () => {} });
      expect(code).toBe(0);
      const j = JSON.parse(out);
      expect(j.device).toBe('cuda');
      expect(j.deviceDescription).toMatch(/NCCL/);
      expect(j.draft).toEqual(cases.map((c) => c.expected));
    });

    it('in this process: the RankExecutor with a one-rank NcclCommunicator (graph and eager) equals the plain plan', () => {
      const name = 'lstm-wide-input';
      const { config, weights } = loadCheckpoint(fixtureDir(name), { quiet: true });
      const g = programFor(config, weights).graph;
      const rp = shardVocabParallel(g, 1, 0);
      const lib = loadNccl();
      const version = new Int32Array(1);
      expect(lib.ncclGetVersion(version)).toBe(0);
      console.log(`[gpu] NCCL ${version[0]}`);
      dev.makeCurrent();
      const comm = NcclCommunicator.initRank(lib, 1, NcclCommunicator.uniqueId(lib), 0);
      const rank = new RankExecutor(dev, compileRankStages(rp.graph, { maxBatch: 32 }), shardWeights(weights, rp.shards), { collective: comm });
      const ref = new PlanExecutor(dev, compileSpeculator(g, { maxBatch: 32 }).plan, weights);
      try {
        for (const B of [1, 5, 32]) {
          const b = batch(name, B, 3);
          const want = ref.run({ hidden: hostTensor('f32', [B, config.hiddenSize], b.hidden), tokens: hostTensor('i32', [B], b.tokens) }).draft.data as Int32Array;
          expect([...rank.propose(b.hidden, b.tokens, B)], `graph B=${B}`).toEqual([...want]);
          expect([...rank.propose(b.hidden, b.tokens, B)], `replay B=${B}`).toEqual([...want]);
          expect([...rank.propose(b.hidden, b.tokens, B, { graph: false })], `eager B=${B}`).toEqual([...want]);
          expect([...want]).toEqual(b.expected);
        }
        expect(rank.capturedGraphs).toBe(3);
        comm.checkAsyncError();
      } finally {
        rank.close();
        ref.close();
        comm.destroy();
      }
    });
  });

  describe('(b) a rank that dies or hangs mid-proposal', () => {
    it('exits right after enqueuing its first replay: one TensorParallelError, the speculator stays failed, no process left', async () => {
      const tp = await loadTp('lstm-tiny', { tensorParallelFault: { rank: 0, atCollective: 0, action: 'exit' } });
      const pid = tp.workerPids[0];
      const b = batch('lstm-tiny', 32);
      const err = await bounded(tp.propose(b).then(() => null, (e: unknown) => e), 20_000, 'the failed proposal');
      expect(err).toBeInstanceOf(TensorParallelError);
      expect((err as TensorParallelError).rank).toBe(0);
      expect((err as Error).message).toMatch(/^tensor parallel: rank 0 \(pid \d+\) exited with code 3 during proposal 1; every rank was ended$/);
      await expect(tp.propose(b)).rejects.toBe(err);
      await bounded(tp.workersExited, 10_000, 'the worker exiting');
      expect(isRunning(pid)).toBe(false);
      tp.close();
    });

    it('SIGKILLed from outside during a proposal: one TensorParallelError naming the signal; no child of the worker survives', async () => {
      // the rank stops right after enqueuing its first replay (a 'hang' fault with a long timeout), so the kill lands mid-proposal
      const tp = await loadTp('mlp-tied', { collectiveTimeoutMs: 60_000, tensorParallelFault: { rank: 0, atCollective: 0, action: 'hang' } });
      const pid = tp.workerPids[0];
      const b = batch('mlp-tied', 32);
      const kids = childrenOf(pid);
      const pending = tp.propose(b).then(() => null, (e: unknown) => e);
      await new Promise((r) => setTimeout(r, 500));
      process.kill(pid, 'SIGKILL');
      const err = await bounded(pending, 20_000, 'the failed proposal');
      expect(err).toBeInstanceOf(TensorParallelError);
      expect((err as Error).message).toMatch(/^tensor parallel: rank 0 \(pid \d+\) exited with signal SIGKILL during proposal 1; every rank was ended$/);
      await expect(tp.propose(b)).rejects.toBe(err);
      await bounded(tp.workersExited, 10_000, 'the worker exiting');
      const t0 = Date.now();
      while ([pid, ...kids].some(isRunning) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
      expect([pid, ...kids].filter(isRunning)).toEqual([]);
      tp.close();
    });

    it('hangs mid-proposal: the collective timeout fails it, the rank is told to abort its communicator and ends', async () => {
      const tp = await loadTp('lstm-tiny', { collectiveTimeoutMs: 1500, tensorParallelFault: { rank: 0, atCollective: 0, action: 'hang' } });
      const pid = tp.workerPids[0];
      const t0 = Date.now();
      const err = await bounded(tp.propose(batch('lstm-tiny', 4)).then(() => null, (e: unknown) => e), 20_000, 'the timed-out proposal');
      expect(err).toBeInstanceOf(TensorParallelError);
      expect((err as Error).message).toMatch(/^tensor parallel: rank 0 did not finish proposal 1 .*within the collective timeout of 1500 ms; every rank was ended$/);
      expect(Date.now() - t0).toBeLessThan(10_000);
      await bounded(tp.workersExited, 10_000, 'the worker exiting');
      expect(isRunning(pid)).toBe(false);
      tp.close();
    });

    it('an error inside the rank is reported as one TensorParallelError with its message', async () => {
      const tp = await loadTp('mlp-untied', { tensorParallelFault: { rank: 0, atCollective: 0, action: 'throw' } });
      const err = await bounded(tp.propose(batch('mlp-untied', 2)).then(() => null, (e: unknown) => e), 20_000, 'the failed proposal');
      expect(err).toBeInstanceOf(TensorParallelError);
      expect((err as Error).message).toMatch(/^tensor parallel: rank 0 failed in proposal 1: injected fault in rank 0 during proposal 1; every rank was ended$/);
      await bounded(tp.workersExited, 10_000, 'the worker exiting');
      tp.close();
    });
  });

  it('(c) the parent CUDA context is still usable: its speculators still draft the expected tokens', async () => {
    expect(dev.health.poisonedBy).toBeNull();
    const p = dev.memory.alloc(1 << 20, 'after the TP tests');
    dev.memory.memset(p, 0, 1 << 20);
    dev.synchronize();
    dev.memory.free(p);
    for (const name of FIXTURES) {
      const b = batch(name, 32, 2);
      expect([...await plain.get(name)!.propose(b)], name).toEqual(b.expected);
    }
  });
});
