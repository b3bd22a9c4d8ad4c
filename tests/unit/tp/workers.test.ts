// The tensor-parallel process model on the CPU: loadSpeculator({ tensorParallel: N }) runs one worker
// process per rank behind one Speculator, with the all-gather emulated over the worker IPC. Drafts equal
// TP = 1; a rank that dies, throws or hangs fails the proposal with one error naming it, and every
// worker exits. Each test is bounded (short collective timeouts) and waits for every worker to exit.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Speculator } from '../../../runtime/speculator.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import { TensorParallelError } from '../../../runtime/tp/supervisor.ts';
import { fixtureBatch, fixtureDir, rows } from '../../support/fixtures.ts';

type TpSpeculator = Speculator & { workerPids: readonly number[]; workersExited: Promise<void> };
const open: TpSpeculator[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) { s.close(); await s.workersExited; }
});

const isRunning = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
async function load(o: Partial<Parameters<typeof loadSpeculator>[0]> & { tensorParallel: number }, name: 'lstm-tiny' | 'mlp-untied' = 'lstm-tiny'): Promise<TpSpeculator> {
  const s = await loadSpeculator({ model: fixtureDir(name), device: 'cpu', quiet: true, collectiveTimeoutMs: 5000, ...o }) as TpSpeculator;
  open.push(s);
  return s;
}
const bounded = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what} took over ${ms} ms`)), ms))]);

async function expectAllExited(s: TpSpeculator): Promise<void> {
  await bounded(s.workersExited, 5000, 'the workers exiting');
  expect(s.workerPids.filter(isRunning)).toEqual([]);
}

describe('tensorParallel worker processes', () => {
  it('two and four ranks draft the reference tokens; the workers set NCCL_NVLS_ENABLE=0 and exit on close', async () => {
    for (const [name, n] of [['lstm-tiny', 2], ['mlp-untied', 4]] as const) {
      const s = await load({ tensorParallel: n }, name);
      expect(s.workerPids).toHaveLength(n);
      if (existsSync('/proc/self/environ')) for (const pid of s.workerPids) expect(readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')).toContain('NCCL_NVLS_ENABLE=0');
      expect(s.deviceDescription).toMatch(new RegExp(`tensor parallel over ${n} worker processes`));
      const { hidden, tokens, expected } = fixtureBatch(name);
      expect(rows(await s.propose({ hidden, tokens }), s.numSpeculativeTokens)).toEqual(expected);
      // more proposals on the same workers, issued together: they run in call order
      const one = fixtureBatch(name, 1);
      const both = await Promise.all([s.propose({ hidden: one.hidden, tokens: one.tokens }), s.propose({ hidden, tokens })]);
      expect(rows(both[0], s.numSpeculativeTokens)).toEqual(one.expected);
      expect(rows(both[1], s.numSpeculativeTokens)).toEqual(expected);
      s.close();
      await expectAllExited(s);
    }
  }, 30_000);

  it('a worker killed mid-proposal: the caller gets one error naming the rank, every other worker exits', async () => {
    // rank 1 stops at its first collective; the test kills it there (SIGKILL, as the OOM killer would)
    const s = await load({ tensorParallel: 3, tensorParallelFault: { rank: 1, atCollective: 0, action: 'hang' } });
    const { hidden, tokens } = fixtureBatch('lstm-tiny');
    const p = s.propose({ hidden, tokens });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(s.workerPids[1], 'SIGKILL');
    const err = await bounded(p.then(() => null, (e: unknown) => e), 5000, 'the proposal failing');
    expect(err).toBeInstanceOf(TensorParallelError);
    expect((err as TensorParallelError).rank).toBe(1);
    expect((err as Error).message).toMatch(new RegExp(`^tensor parallel: rank 1 \\(pid ${s.workerPids[1]}\\) exited with signal SIGKILL during proposal 1; every rank was ended$`));
    await expectAllExited(s);
    // the speculator stays failed with the same error
    await expect(s.propose({ hidden, tokens })).rejects.toBe(err);
  }, 20_000);

  it('a worker that exits or throws in a collective is named; a hung one times out', async () => {
    const { hidden, tokens } = fixtureBatch('lstm-tiny');
    const exit = await load({ tensorParallel: 2, tensorParallelFault: { rank: 0, atCollective: 2, action: 'exit' } });
    await expect(exit.propose({ hidden, tokens })).rejects.toThrow(/^tensor parallel: rank 0 \(pid \d+\) exited with code 3 during proposal 1/);
    await expectAllExited(exit);
    const thrown = await load({ tensorParallel: 2, tensorParallelFault: { rank: 1, atCollective: 1, action: 'throw' } });
    await expect(thrown.propose({ hidden, tokens })).rejects.toThrow('tensor parallel: rank 1 failed in proposal 1: injected fault in rank 1 at collective 1; every rank was ended');
    await expectAllExited(thrown);
    const hung = await load({ tensorParallel: 4, collectiveTimeoutMs: 400, tensorParallelFault: { rank: 2, atCollective: 1, action: 'hang' } });
    const t0 = Date.now();
    const err = await bounded(hung.propose({ hidden, tokens }).then(() => null, (e: unknown) => e), 5000, 'the timeout');
    expect((err as Error).message).toBe('tensor parallel: rank 2 did not reach collective 1 of proposal 1 within the collective timeout of 400 ms; every rank was ended');
    expect((err as TensorParallelError).rank).toBe(2);
    expect(Date.now() - t0).toBeLessThan(4000);
    await expectAllExited(hung);
  }, 30_000);

  it('a caller killed with SIGKILL leaves no orphans: its workers exit when the IPC channel closes', async () => {
    const parent = spawn(process.execPath, [new URL('./orphan-parent.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await bounded(new Promise<string>((resolve, reject) => {
        let buf = '';
        parent.stdout!.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) resolve(buf.split('\n')[0]); });
        parent.on('exit', (c) => reject(new Error(`the caller exited with ${c} before printing its workers`)));
      }), 15_000, 'the caller starting');
      const pids = JSON.parse(line) as number[];
      expect(pids).toHaveLength(2);
      expect(pids.every(isRunning)).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // the proposal is in flight (rank 1 hangs in it)
      parent.kill('SIGKILL');
      const t0 = Date.now();
      while (pids.some(isRunning) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
      expect(pids.filter(isRunning)).toEqual([]);
    } finally {
      parent.kill('SIGKILL');
    }
  }, 30_000);

  it('a rank that cannot load its shard fails the start with its error, and every worker exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arcticc-tp-noweights-'));
    copyFileSync(join(fixtureDir('lstm-tiny'), 'config.json'), join(dir, 'config.json'));
    const err = await loadSpeculator({ model: dir, device: 'cpu', quiet: true, tensorParallel: 2, collectiveTimeoutMs: 5000 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TensorParallelError);
    expect((err as Error).message).toMatch(/^tensor parallel: rank [01] failed: .*; every rank was ended$/);
  }, 20_000);

  it('bad options are refused before any process starts', async () => {
    await expect(loadSpeculator({ model: fixtureDir('lstm-tiny'), tensorParallel: 0 })).rejects.toThrow(/tensorParallel must be a positive integer, got 0/);
    // no GPU here (or fewer than 2): refused before any worker is forked
    if (!process.env.ARCTICC_GPU) await expect(loadSpeculator({ model: fixtureDir('lstm-tiny'), tensorParallel: 2, device: 'cuda' })).rejects.toThrow(/tensorParallel 2 on device "cuda" needs 2 CUDA devices \(one per rank\)/);
    await expect(loadSpeculator({ model: fixtureDir('lstm-tiny'), tensorParallel: 2, quantize: 'fp8-head' })).rejects.toThrow(/does not combine with quantize/);
  });
});
