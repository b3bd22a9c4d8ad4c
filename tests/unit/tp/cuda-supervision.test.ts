// The supervisor's CUDA mode without a GPU: scripted workers (fake-cuda-worker.ts) stand in for the CUDA
// ranks. Rank 0's NCCL unique id reaches every rank; proposals collect the ranks' drafts; a rank that
// dies mid-proposal fails it with one TensorParallelError while the others, blocked as in a collective,
// are told to abort their communicators and exit, and one that ignores that is killed after the grace
// period. A real CUDA worker on a machine without a GPU or libnccl fails its start with a clear error.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TensorParallelBackend } from '../../../runtime/tp/supervisor.ts';
import { createTensorParallelBackend, TensorParallelError } from '../../../runtime/tp/supervisor.ts';
import { fixtureDir } from '../../support/fixtures.ts';

const FAKE = new URL('./fake-cuda-worker.ts', import.meta.url).pathname;
const isRunning = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const open: TensorParallelBackend[] = [];
afterEach(async () => { for (const b of open.splice(0)) { b.close(); await b.exited; } });

async function start(mode: string, ranks = 3): Promise<{ be: TensorParallelBackend; log: () => string[] }> {
  const file = join(mkdtempSync(join(tmpdir(), 'arcticc-tp-cuda-')), 'log');
  process.env.FAKE_TP_LOG = file;
  process.env.FAKE_TP_MODE = mode;
  try {
    const be = await createTensorParallelBackend({ model: 'unused', ranks, device: 'cuda', maxBatch: 8, collectiveTimeoutMs: 10_000, workerModule: FAKE });
    open.push(be);
    return { be, log: () => readFileSync(file, 'utf8').trim().split('\n') };
  } finally {
    delete process.env.FAKE_TP_LOG;
    delete process.env.FAKE_TP_MODE;
  }
}

describe('tensor-parallel supervision in CUDA mode (scripted workers)', () => {
  it('relays rank 0\'s NCCL unique id to every rank, then collects the drafts', async () => {
    const { be, log } = await start('ok');
    expect(be.device).toBe('cuda');
    expect(be.description).toMatch(/^Fake GPU 0, tensor parallel over 3 worker processes, one GPU each/);
    const draft = await be.propose({ hidden: new Float32Array(8), tokens: Int32Array.of(10, 20), batch: 2 });
    expect([...draft]).toEqual([10, 11, 12, 20, 21, 22]);
    const lines = log();
    for (const r of [0, 1, 2]) {
      expect(lines).toContain(`${r} init device=cuda ordinal=${r} maxBatch=8 nvls=0`);
      expect(lines).toContain(`${r} joined abababab (256)`);
    }
    await expect(be.propose({ hidden: 1n, tokens: Int32Array.of(1), batch: 1 })).rejects.toThrow(/host arrays/);
    await expect(be.propose({ hidden: new Float32Array(36), tokens: new Int32Array(9), batch: 9 })).rejects.toThrow(/exceeds maxBatch 8/);
  });

  it('a rank that dies mid-proposal: one TensorParallelError naming it; the others abort their communicators and exit', async () => {
    const { be, log } = await start('die1');
    const err = await be.propose({ hidden: new Float32Array(4), tokens: Int32Array.of(1), batch: 1 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TensorParallelError);
    expect((err as TensorParallelError).rank).toBe(1);
    expect((err as Error).message).toMatch(/^tensor parallel: rank 1 \(pid \d+\) exited with code 3 during proposal 1; every rank was ended$/);
    await be.exited;
    expect(be.pids.filter(isRunning)).toEqual([]);
    expect(log()).toEqual(expect.arrayContaining(['0 aborted', '2 aborted']));
    await expect(be.propose({ hidden: new Float32Array(4), tokens: Int32Array.of(1), batch: 1 })).rejects.toBe(err);
  });

  it('a rank that ignores the abort is killed after the grace period', async () => {
    const { be, log } = await start('stubborn1');
    const t0 = Date.now();
    await expect(be.propose({ hidden: new Float32Array(4), tokens: Int32Array.of(1), batch: 1 })).rejects.toThrow(/rank 1 .*exited with code 3/);
    await be.exited;
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(be.pids.filter(isRunning)).toEqual([]);
    expect(log()).toEqual(expect.arrayContaining(['0 aborted', '2 ignores abort']));
  });

  it.skipIf(process.env.ARCTICC_GPU === '1')('a real CUDA rank without a GPU or libnccl fails the start with its error, and every worker exits', async () => {
    const err = await createTensorParallelBackend({ model: fixtureDir('lstm-tiny'), ranks: 2, device: 'cuda', collectiveTimeoutMs: 10_000 }).then((b) => { open.push(b); return null; }, (e: unknown) => e);
    expect(err).toBeInstanceOf(TensorParallelError);
    expect((err as Error).message).toMatch(/^tensor parallel: rank [01] failed: .*(NCCL is not available|CUDA|cuInit|libcuda).*; every rank was ended$/s);
  }, 30_000);
});
