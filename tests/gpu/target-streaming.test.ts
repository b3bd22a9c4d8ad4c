// loadTarget on CUDA streams a sharded checkpoint (bench/make-llama-checkpoint.ts's tiny shape, shards small
// enough that merged qkv / gate_up parts sit in different files) through the pinned staging chunks: the
// uploaded weights equal the files' (greedy tokens and hidden states equal the CPU backend's on the same
// folder), and a shard truncated in the middle of the upload (from the progress callback, after every device
// buffer was allocated) fails the load with the shard named and nothing left allocated.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeLlamaCheckpoint } from '../../bench/make-llama-checkpoint.ts';
import { greedyTrace, relL2 } from '../../bench/target-steps.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('loadTarget on CUDA streams a sharded checkpoint', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arcticc-stream-'));
    writeLlamaCheckpoint(path.join(dir, 'tiny'), { shape: 'tiny', layers: 3, maxShardBytes: 60_000 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  // an f32 cache: the comparison is then f32 rounding (a bf16 cache can round an entry near a midpoint to
  // its neighbour on one backend, 3e-4 hidden rel. L2 on the H200), so a wrong weight shows plainly
  const o = { kvDtype: 'f32' as const, maxNumSeqs: 2, maxModelLen: 64, maxBatchTokens: 64, quiet: true };

  it('greedy tokens and hidden states equal the CPU backend on the same folder', async () => {
    const { loadTarget } = await import('../../runtime/target/target-model.ts');
    const model = path.join(dir, 'tiny');
    expect(fs.readdirSync(model).filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(3);
    const prompt = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38];
    const gpu = await loadTarget({ ...o, model, device: 'cuda' });
    let a;
    try { a = await greedyTrace(gpu, prompt, 6, false); } finally { gpu.close(); }
    const cpu = await loadTarget({ ...o, model, device: 'cpu' });
    let b;
    try { b = await greedyTrace(cpu, prompt, 6, true); } finally { cpu.close(); }
    expect(a.tokens).toEqual(b.tokens);
    for (let i = 0; i < a.hidden.length; i++) expect(relL2(a.hidden[i], b.hidden[i]), `step ${i}`).toBeLessThan(1e-4);
  });

  it('a shard truncated mid-upload fails the load naming the file, and frees everything', async () => {
    const { loadTarget } = await import('../../runtime/target/target-model.ts');
    const { openDevice } = await import('../../runtime/cuda/device.ts');
    const bad = path.join(dir, 'truncated');
    fs.cpSync(path.join(dir, 'tiny'), bad, { recursive: true });
    const shard = fs.readdirSync(bad).filter((f) => f.endsWith('.safetensors')).sort().at(-1)!;
    const file = path.join(bad, shard);
    let reads = 0, heldMidUpload = 0;
    const dev = openDevice();
    try {
      const before = dev.memory.allocatedBytes;
      const onProgress = (): void => {
        // the first chunk read: every buffer is allocated by now; the last shard loses its tail
        if (reads++ === 0) { heldMidUpload = dev.memory.allocatedBytes - before; fs.truncateSync(file, fs.statSync(file).size - 64); }
      };
      await expect(loadTarget({ ...o, model: bad, device: 'cuda', onProgress })).rejects.toThrow(new RegExp(`${shard.replace(/\./g, '\\.')}.*truncated`));
      expect(heldMidUpload).toBeGreaterThan(0);
      expect(dev.memory.allocatedBytes).toBe(before);
    } finally {
      dev.release();
    }
  });
});
