// 10,000 consecutive proposals through one backend, cycling batch sizes over several buckets: every
// result stays right, and device memory is stable (our tracked total and the driver's free memory are
// the same after as after the warm-up pass that captured every bucket's graph).
import { expect, it } from 'vitest';
import { createCudaBackend } from '../../runtime/cuda/backend.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { batchOf, compileFixture } from './fixtures-helpers.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('soak', () => {
  it('10,000 proposals with stable device memory', async () => {
    const f = await compileFixture('lstm-tiny', 64);
    const dev = openDevice(); // holds the context so the readings below see the backend's allocations
    const be = createCudaBackend(f.plan, f.weights);
    try {
      const sizes = [1, 2, 3, 5, 8, 13, 16, 24, 64];
      const batches = sizes.map((B, i) => ({ B, ...batchOf(f, B, i) }));
      for (const b of batches) expect([...await be.propose({ hidden: b.hidden, tokens: b.tokens, batch: b.B })]).toEqual([...b.expected]);
      const tracked = dev.memory.allocatedBytes, pinned = dev.memory.pinnedBytes, free = dev.memory.info().free;
      const t0 = performance.now();
      let wrong = 0;
      for (let i = 0; i < 10_000; i++) {
        const b = batches[i % batches.length];
        const got = await be.propose({ hidden: b.hidden, tokens: b.tokens, batch: b.B });
        if (got.length !== b.expected.length || got.some((v, j) => v !== b.expected[j])) wrong++;
      }
      const ms = performance.now() - t0;
      const after = { tracked: dev.memory.allocatedBytes, pinned: dev.memory.pinnedBytes, free: dev.memory.info().free };
      console.log(`[gpu] soak: 10,000 proposals in ${ms.toFixed(0)} ms (${(ms / 10).toFixed(1)} µs each, host wall); tracked ${tracked} B → ${after.tracked} B; driver free ${free} → ${after.free}`);
      expect(wrong).toBe(0);
      expect(after.tracked).toBe(tracked);
      expect(after.pinned).toBe(pinned);
      expect(after.free).toBe(free);
    } finally {
      be.close();
      dev.release();
    }
  });
});
