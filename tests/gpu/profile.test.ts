// The per-launch profiler (runtime/cuda/launch-profile.ts through PlanExecutor.profile): one timing per
// launch that runs at these dims, in plan order, each a positive median, and the outputs after profiling
// still the fixture's (profiling only re-runs launches).
import { expect, it } from 'vitest';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { PlanExecutor } from '../../runtime/cuda/executor.ts';
import { byKind } from '../../runtime/cuda/launch-profile.ts';
import { batchOf, compileFixture } from './fixtures-helpers.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('launch profile', () => {
  it('times every launch of a fixture plan and leaves its results intact', async () => {
    const f = await compileFixture('lstm-tiny', 8);
    const dev = openDevice();
    const exec = new PlanExecutor(dev, f.plan, f.weights, { graphs: true });
    try {
      const b = batchOf(f, 4, 0);
      const inputs = { hidden: hostTensor('f32', [4, b.hidden.length / 4], b.hidden), tokens: hostTensor('i32', [4], b.tokens) };
      const before = exec.run(inputs);
      const t = exec.profile({ B: 4 }, 5);
      expect(t.length).toBeGreaterThan(0);
      expect(t.length).toBeLessThanOrEqual(f.plan.launches.length);
      expect(t.map((x) => x.index)).toEqual([...t.map((x) => x.index)].sort((x, y) => x - y));
      for (const x of t) {
        expect(x.ms).toBeGreaterThan(0);
        expect(x.kernel).toBe(f.plan.launches[x.index].kernel);
      }
      expect(byKind(t).reduce((a, k) => a + k.launches, 0)).toBe(t.length);
      const after = exec.run(inputs);
      for (const k of Object.keys(before)) expect([...after[k].data]).toEqual([...before[k].data]);
    } finally {
      exec.close();
      dev.release();
    }
  });
});
