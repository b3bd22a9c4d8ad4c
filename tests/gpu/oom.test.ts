// Out of device memory while loading a plan: a clear error, and everything allocated so far is freed.
import { expect, it } from 'vitest';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { CudaError } from '../../runtime/cuda/errors.ts';
import { PlanExecutor } from '../../runtime/cuda/executor.ts';
import { describeGpu } from './gpu-env.ts';
import { VADD_PTX } from './ptx-kernels.ts';

describeGpu('out of memory while loading', () => {
  it('names the buffer, frees the weights already uploaded, and leaves device memory as it was', () => {
    const dev = openDevice();
    try {
      const free0 = dev.memory.info().free;
      const tracked0 = dev.memory.allocatedBytes;
      const W = 1 << 24; // a 64 MiB weight is uploaded first, then the input cannot fit
      const plan: ExecutionPlan = {
        name: 'too_big', maxDims: { B: Math.ceil((free0 + (8 << 30)) / (4 << 20)) }, modules: { v: VADD_PTX },
        kernels: [{ name: 'vadd', module: 'v', params: [{ name: 'o', type: 'u64' }, { name: 'a', type: 'u64' }, { name: 'b', type: 'u64' }, { name: 'n', type: 'u32' }], block: [256, 1, 1], sharedBytes: 0 }],
        buffers: [
          { id: 'w', dtype: 'f32', shape: [W], kind: 'param', name: 'w' },
          { id: 'x', dtype: 'f32', shape: ['B', 1 << 20], kind: 'input', name: 'x' },
          { id: 'y', dtype: 'f32', shape: ['B', 1 << 20], kind: 'output', name: 'y' },
        ],
        launches: [], arenaBytes: 0, inputs: ['x'], outputs: [{ name: 'y', buffer: 'y' }], irHash: 'oom', compilerVersion: 'hand-written',
      };
      let err: unknown;
      try { new PlanExecutor(dev, plan, new Map([['w', hostTensor('f32', [W])]])); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(CudaError);
      const e = err as CudaError;
      console.log(`[gpu] oom: ${e.message}`);
      expect(e.code).toBe(2);
      expect(e.message).toMatch(/^cuMemAlloc_v2 failed with CUDA_ERROR_OUT_OF_MEMORY \(2\).* while allocating input "x" at maxDims \([\d.]+ GiB\): out of device memory with 64.0 MiB already allocated by this process in 1 buffers/);
      expect(e.message).toMatch(/freed the 1 device buffers, 64.0 MiB, allocated so far/);
      expect(dev.memory.allocatedBytes).toBe(tracked0);
      expect(dev.health.poisonedBy).toBe(null);
      expect(Math.abs(dev.memory.info().free - free0)).toBeLessThanOrEqual(4 << 20);
    } finally {
      dev.release();
    }
  });
});
