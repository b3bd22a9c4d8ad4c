// The host↔device sync counter (runtime/host-syncs.ts) against the fake driver: a plan run waits once
// (inputs staged, launches and output copies enqueued, one stream synchronize), and so does each blocking
// download; enqueue() alone waits never.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { openDevice, resetDeviceRegistry } from '../../../runtime/cuda/device.ts';
import { PlanExecutor } from '../../../runtime/cuda/executor.ts';
import { hostSyncs } from '../../../runtime/host-syncs.ts';
import { FakeCuda } from './fake-driver.ts';
import { affinePlan, registerAffineKernels } from './plans.ts';

let fake: FakeCuda;
let dev: CudaDevice;
const weights = () => new Map([['w', hostTensor('f32', [4], new Float32Array([1, 2, 3, 4]))]]);
const rows = (b: number) => hostTensor('f32', [b, 4], new Float32Array(b * 4));

beforeEach(() => {
  resetDeviceRegistry();
  fake = new FakeCuda();
  registerAffineKernels(fake);
  dev = openDevice({ driver: fake });
});
afterEach(() => { dev.release(); });

describe('host syncs', () => {
  it('one per plan run (graph capture and replay included), none for a bare enqueue', async () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    for (const b of [3, 3, 8]) {
      const s0 = hostSyncs(), c0 = fake.calls.filter((c) => c === 'cuStreamSynchronize').length;
      ex.run({ x: rows(b) });
      expect(hostSyncs() - s0).toBe(1);
      expect(fake.calls.filter((c) => c === 'cuStreamSynchronize').length - c0).toBe(1);
    }
    const s1 = hostSyncs();
    await ex.runAsync({ x: rows(5) });
    expect(hostSyncs() - s1).toBe(1);
    const s2 = hostSyncs();
    ex.enqueue({ B: 4 });
    expect(hostSyncs() - s2).toBe(0);
    const s3 = hostSyncs();
    dev.memory.download(new Float32Array(4), ex.address('y'), 16);
    expect(hostSyncs() - s3).toBe(1);
    ex.close();
  });
});
