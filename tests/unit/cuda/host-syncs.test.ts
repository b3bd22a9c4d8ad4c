// The host↔device sync counter (runtime/host-syncs.ts) against the fake driver: a plan run waits once
// (inputs staged, launches and output copies enqueued, one stream synchronize), and so does each blocking
// download; enqueue() alone waits never. A plan's staged inputs go in with one copy, whatever their number.
// begin() enqueues a run without waiting, so two plans chained on the stream (the second reading the first's
// output through gathered rows and patched inputs, device to device) wait once together.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { openDevice, resetDeviceRegistry } from '../../../runtime/cuda/device.ts';
import { coveredPrefix, PlanExecutor } from '../../../runtime/cuda/executor.ts';
import { hostSyncs } from '../../../runtime/host-syncs.ts';
import { FakeCuda } from './fake-driver.ts';
import { affinePlan, registerAffineKernels, registerToyKernel, toySpeculatorPlan } from './plans.ts';

let fake: FakeCuda;
let dev: CudaDevice;
const weights = () => new Map([['w', hostTensor('f32', [4], new Float32Array([1, 2, 3, 4]))]]);
const rows = (b: number) => hostTensor('f32', [b, 4], new Float32Array(b * 4));

beforeEach(() => {
  resetDeviceRegistry();
  fake = new FakeCuda();
  registerAffineKernels(fake);
  registerToyKernel(fake);
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

  it('copies every staged input in with one cuMemcpyHtoDAsync, device-pointer inputs after it', () => {
    const ex = new PlanExecutor(dev, toySpeculatorPlan(8), new Map());
    const htod = () => fake.calls.filter((c) => c === 'cuMemcpyHtoDAsync_v2').length;
    for (const b of [1, 3, 8, 2]) {
      const hidden = hostTensor('f32', [b, 2], Float32Array.from({ length: 2 * b }, (_, i) => (i % 4 === 0 ? 1 : -1)));
      const tokens = hostTensor('i32', [b], Int32Array.from({ length: b }, (_, i) => 10 * i));
      const c0 = htod();
      const { draft } = ex.run({ hidden, tokens });
      expect(htod() - c0).toBe(1);
      const want = Array.from({ length: b }, (_, r) => [0, 1, 2].map((j) => 10 * r + j + (r % 2 === 0 ? 100 : 0))).flat();
      expect([...(draft.data as Int32Array)]).toEqual(want);
    }
    // tokens already on the device: copied device to device after the staged block, which spans its slot
    const b = 3;
    const ptr = dev.memory.alloc(4 * b, 'test tokens');
    dev.memory.upload(ptr, Int32Array.of(7, 8, 9), 12);
    const { draft } = ex.run({ hidden: hostTensor('f32', [b, 2], new Float32Array(2 * b).fill(-1)), tokens: { dtype: 'i32', shape: [b], ptr } });
    expect([...(draft.data as Int32Array)]).toEqual([7, 8, 9, 8, 9, 10, 9, 10, 11]);
    dev.memory.free(ptr);
    ex.close();
  });

  it('two plans chained with begin(): gathered rows and patched tokens device to device, one sync for both', () => {
    const h2 = (n: number) => hostTensor('f32', [n, 2], new Float32Array(2 * n).fill(-1));
    const a = new PlanExecutor(dev, toySpeculatorPlan(8), new Map());
    const b = new PlanExecutor(dev, toySpeculatorPlan(8), new Map());
    // rows on the device to gather from: row r = [r % 2 ? -1 : 1, 0]
    const src = dev.memory.alloc(6 * 8, 'test rows');
    dev.memory.upload(src, Float32Array.from({ length: 12 }, (_, i) => (i % 2 ? 0 : Math.floor(i / 2) % 2 ? -1 : 1)), 48);
    const s0 = hostSyncs(), c0 = fake.calls.filter((c) => c === 'cuStreamSynchronize').length, d0 = fake.dtod.length;
    // plan a: rows 4, 5, 0 gathered (5 follows 4: one copy for both), tokens staged
    const ga = a.begin({ hidden: { dtype: 'f32', shape: [3, 2], gather: [{ src: src + 32n, offset: 0, bytes: 16 }, { src, offset: 16, bytes: 8 }] }, tokens: hostTensor('i32', [3], Int32Array.of(10, 20, 30)) });
    // plan b: its tokens 1 and 2 patched from a's draft (row 0 token 2, row 2 token 0) after its staging copy
    const draft = a.outputAddress('draft');
    const gb = b.begin({ hidden: h2(3), tokens: hostTensor('i32', [3], Int32Array.of(7, 0, 0)) }, { patches: { tokens: [{ src: draft + 8n, offset: 4, bytes: 4 }, { src: draft + 24n, offset: 8, bytes: 4 }] } });
    expect(() => a.begin({ hidden: h2(1), tokens: hostTensor('i32', [1], Int32Array.of(1)) })).toThrow(/enqueued and not collected/);
    dev.synchronize();
    expect(hostSyncs() - s0).toBe(1);
    expect(fake.calls.filter((c) => c === 'cuStreamSynchronize').length - c0).toBe(1);
    const da = [...(ga.collect().draft.data as Int32Array)];
    // rows 4 and 5 have hidden[0] = 1 and −1, row 0 has 1: +100 on rows 0 and 2
    expect(da).toEqual([110, 111, 112, 20, 21, 22, 130, 131, 132]);
    const db = [...(gb.collect().draft.data as Int32Array)];
    expect(db).toEqual([7, 8, 9, 112, 113, 114, 130, 131, 132]);
    expect(fake.dtod.slice(d0).map((c) => c.bytes)).toEqual([16, 8, 4, 4]);
    // a patch outside the staged input is refused before anything is enqueued
    expect(() => b.begin({ hidden: h2(1), tokens: hostTensor('i32', [1], Int32Array.of(1)) }, { patches: { tokens: [{ src: draft, offset: 4, bytes: 4 }] } })).toThrow(/outside its 4 bytes/);
    expect(() => b.run({ hidden: h2(1), tokens: hostTensor('i32', [1], Int32Array.of(1)) })).not.toThrow();
    dev.memory.free(src);
    a.close();
    b.close();
  });

  it('a gathered input is zeroed only past the rows its spans cover: no memset when they fill the bucket', () => {
    const ex = new PlanExecutor(dev, toySpeculatorPlan(8), new Map());
    const src = dev.memory.alloc(8 * 8, 'test rows');
    dev.memory.upload(src, new Float32Array(16).fill(1), 64);
    const memsets = (): number => fake.calls.filter((c) => c === 'cuMemsetD8Async').length;
    const tokens = (n: number) => hostTensor('i32', [n], Int32Array.from({ length: n }, (_, i) => 10 * i));
    const gather = (n: number) => ({ dtype: 'f32' as const, shape: [n, 2], gather: [{ src, offset: 0, bytes: 8 * n }] });
    let m0 = memsets();
    const h0 = fake.htodBytes.length;
    ex.run({ hidden: gather(2), tokens: tokens(2) }); // bucket 2: covered
    expect(memsets() - m0).toBe(0);
    // the staging copy starts at the first staged slot: the gathered hidden slot (8 rows × 8 bytes) is not copied in
    expect(fake.htodBytes.slice(h0)).toEqual([8]);
    m0 = memsets();
    const { draft } = ex.run({ hidden: gather(5), tokens: tokens(5) }); // bucket 6: one row of padding zeroed
    expect(memsets() - m0).toBe(1);
    expect([...(draft.data as Int32Array)].slice(0, 3)).toEqual([100, 101, 102]);
    dev.memory.free(src);
    ex.close();
  });

  it('coveredPrefix: the gap-free prefix of the spans, in any order', () => {
    expect(coveredPrefix([])).toBe(0);
    expect(coveredPrefix([{ offset: 8, bytes: 8 }, { offset: 0, bytes: 8 }])).toBe(16);
    expect(coveredPrefix([{ offset: 0, bytes: 8 }, { offset: 16, bytes: 8 }])).toBe(8);
    expect(coveredPrefix([{ offset: 4, bytes: 8 }])).toBe(0);
    expect(coveredPrefix([{ offset: 0, bytes: 16 }, { offset: 4, bytes: 4 }])).toBe(16);
  });
});
