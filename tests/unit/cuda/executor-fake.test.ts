// The executor and backend against the fake driver: padding, buckets, graph capture and replay,
// weight checks, OOM cleanup, JIT logs, and poisoning after a kernel fault.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { createCudaBackend } from '../../../runtime/cuda/backend.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { openDevice, resetDeviceRegistry } from '../../../runtime/cuda/device.ts';
import { CudaError, CudaPoisonedError } from '../../../runtime/cuda/errors.ts';
import { PlanExecutor } from '../../../runtime/cuda/executor.ts';
import { FakeCuda, FakeFault } from './fake-driver.ts';
import { affinePlan, registerAffineKernels, registerToyChainKernels, registerToyKernel, toyNext, toySpeculatorPlan, toyTargetPlan } from './plans.ts';

let fake: FakeCuda;
let dev: CudaDevice;
const W = new Float32Array([10, 20, 30, 40]);
const weights = () => new Map([['w', hostTensor('f32', [4], W)]]);
const rows = (b: number) => hostTensor('f32', [b, 4], Float32Array.from({ length: b * 4 }, (_, i) => i - 3.5));
const expected = (x: Float32Array) => Array.from(x, (v, i) => 2 * v + W[i % 4]);

beforeEach(() => {
  resetDeviceRegistry();
  fake = new FakeCuda();
  registerAffineKernels(fake);
  registerToyKernel(fake);
  dev = openDevice({ driver: fake });
});
afterEach(() => { dev.release(); });

describe('PlanExecutor', () => {
  it('runs every batch size, padding to the bucket and cropping the result', () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    for (const b of [1, 2, 3, 5, 7, 8]) {
      const x = rows(b);
      const { y } = ex.run({ x });
      expect(y.shape).toEqual([b, 4]);
      expect([...(y.data as Float32Array)]).toEqual(expected(x.data as Float32Array));
    }
    // buckets 1,2,3,6,8,8 → five graphs, each captured once
    expect(ex.capturedGraphs).toBe(5);
    ex.close();
  });

  it('captures lazily after one eager warm-up, then replays', () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    ex.run({ x: rows(5) });
    expect(fake.launches).toEqual(['double_it', 'add_w', 'double_it', 'add_w']); // warm-up + the first replay
    expect(fake.graphLaunches).toBe(1);
    ex.run({ x: rows(6) }); // same bucket (6): replay only
    expect(fake.graphLaunches).toBe(2);
    expect(fake.calls.filter((c) => c === 'cuStreamBeginCapture_v2')).toHaveLength(1);
    ex.close();
  });

  it('pads the extra rows with zeros so kernels never read stale data', () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights(), { graphs: false });
    ex.run({ x: rows(5) });
    const padded = fake.f32(ex.address('x'), 6 * 4);
    expect([...padded.subarray(20)]).toEqual([0, 0, 0, 0]);
    ex.close();
  });

  it('graph replay equals eager launches', () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    const x = rows(7);
    expect(ex.run({ x }, { graph: true }).y.data).toEqual(ex.run({ x }, { graph: false }).y.data);
    ex.close();
  });

  it('poisonOutputs makes unwritten elements show', () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    ex.poisonOutputs(0xff);
    expect(Number.isNaN(fake.f32(ex.address('y'), 1)[0])).toBe(true);
    ex.close();
  });

  it('checks the weights before allocating anything', () => {
    expect(() => new PlanExecutor(dev, affinePlan(8), new Map())).toThrow('missing weight "w" (f32[4])');
    expect(fake.calls).not.toContain('cuMemAlloc_v2');
  });

  it('out of memory while loading: a clear error, and everything allocated so far is freed', () => {
    const before = { used: fake.used, pinned: fake.pinnedLive, tracked: dev.memory.allocatedBytes };
    fake.capacity = fake.used + 16 + 128 + 10; // the weight and the input fit; the output does not
    let err: unknown;
    try { new PlanExecutor(dev, affinePlan(8), weights()); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CudaError);
    const e = err as CudaError;
    expect(e.code).toBe(2);
    expect(e.message).toMatch(/^cuMemAlloc_v2 failed with CUDA_ERROR_OUT_OF_MEMORY \(2\): out of memory while allocating output "y" at maxDims \(128 B\): out of device memory with 144 B already allocated by this process in 2 buffers/);
    expect(e.message).toContain('freed the 2 device buffers, 144 B, allocated so far');
    expect({ used: fake.used, pinned: fake.pinnedLive, tracked: dev.memory.allocatedBytes }).toEqual(before);
    expect(dev.modules.size).toBe(0);
  });

  it('a module the JIT rejects: CudaError with the JIT log, nothing left behind', () => {
    const plan = { ...affinePlan(8), modules: { m0: `${affinePlan(8).modules.m0}BAD addd.f32 %f1;\n` } };
    let err: unknown;
    try { new PlanExecutor(dev, plan, weights()); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CudaError);
    expect((err as CudaError).errorName).toBe('CUDA_ERROR_INVALID_PTX');
    expect((err as CudaError).jitLog).toContain("Not a name of any known instruction: 'BAD addd.f32 %f1;'");
    expect((err as Error).message).toMatch(/while loading module "m0" of plan affine[^]*JIT error log:\nptxas application ptx input, line 3/);
    expect(fake.used).toBe(0);
  });

  it('shares modules with identical PTX and frees everything on close', () => {
    const a = new PlanExecutor(dev, affinePlan(8), weights());
    const b = new PlanExecutor(dev, affinePlan(8), weights());
    expect(fake.modulesLoaded).toBe(1);
    a.run({ x: rows(3) });
    a.close();
    a.close(); // idempotent
    expect(dev.modules.size).toBe(1);
    b.close();
    expect(dev.modules.size).toBe(0);
    expect(fake.used).toBe(0);
    expect(fake.pinnedLive).toBe(0);
    expect(fake.liveGraphs).toBe(0);
    expect(dev.memory.allocatedBytes).toBe(0);
    expect(() => a.run({ x: rows(1) })).toThrow('executor used after close()');
  });

  it('a kernel fault poisons the context: the fault is reported, then every call is refused', () => {
    const ex = new PlanExecutor(dev, affinePlan(8), weights(), { graphs: false });
    fake.kernels.set('add_w', () => { throw new FakeFault(700); });
    let err: unknown;
    try { ex.run({ x: rows(2) }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CudaError);
    expect((err as CudaError).code).toBe(700);
    expect((err as Error).message).toMatch(/CUDA_ERROR_ILLEGAL_ADDRESS \(700\).*create a new process/);
    const n = fake.calls.length;
    expect(() => ex.run({ x: rows(2) })).toThrow(CudaPoisonedError);
    expect(() => ex.run({ x: rows(2) })).toThrow(/^CUDA context poisoned by cuStreamSynchronize failed with CUDA_ERROR_ILLEGAL_ADDRESS \(700\): an illegal memory access was encountered; running plan affine refused: create a new process$/);
    expect(() => dev.memory.alloc(16, 'x')).toThrow(CudaPoisonedError);
    expect(() => openDevice({ driver: fake })).toThrow(CudaPoisonedError);
    expect(fake.calls.length).toBe(n); // refused before reaching the driver
    ex.close(); // drops handles without calling the driver
    expect(fake.calls.length).toBe(n);
  });
});

describe('createCudaBackend', () => {
  const hidden = (b: number) => Float32Array.from({ length: b * 2 }, (_, i) => (i % 4 === 0 ? 1 : -1));
  const want = (b: number) => Array.from({ length: b * 3 }, (_, i) => {
    const r = Math.floor(i / 3), j = i % 3;
    return 10 * r + j + ((r * 2) % 4 === 0 ? 100 : 0);
  });

  it('proposes B×n tokens, chunking batches above maxBatch', async () => {
    const be = createCudaBackend(toySpeculatorPlan(4), new Map(), { driver: fake });
    expect(be.device).toBe('cuda');
    expect(be.description).toBe('Fake GPU (sm_90), plan toy_spec, CUDA graph per batch bucket up to B=4');
    for (const b of [1, 3, 4, 10]) {
      const tokens = Int32Array.from({ length: b }, (_, i) => 10 * i);
      expect([...await be.propose({ hidden: hidden(b), tokens, batch: b })], `B=${b}`).toEqual(want(b));
    }
    be.close();
    be.close();
    await expect(be.propose({ hidden: hidden(1), tokens: new Int32Array(1), batch: 1 })).rejects.toThrow('closed');
    expect(fake.used).toBe(0);
  });

  it('serializes concurrent proposals (shared staging buffers)', async () => {
    const be = createCudaBackend(toySpeculatorPlan(4), new Map(), { driver: fake });
    const rs = await Promise.all([1, 2, 3, 4].map((b) => be.propose({ hidden: hidden(b), tokens: Int32Array.from({ length: b }, (_, i) => 10 * i), batch: b })));
    rs.forEach((r, i) => expect([...r]).toEqual(want(i + 1)));
    be.close();
  });

  it('rejects malformed batches and impossible maxBatch', async () => {
    expect(() => createCudaBackend(toySpeculatorPlan(4), new Map(), { driver: fake, maxBatch: 5 })).toThrow('maxBatch 5 must be an integer in [1, 4]');
    const be = createCudaBackend(toySpeculatorPlan(4), new Map(), { driver: fake });
    await expect(be.propose({ hidden: new Float32Array(3), tokens: new Int32Array(2), batch: 2 })).rejects.toThrow('hidden has 3 values, batch 2 × H 2 needs 4');
    be.close();
  });
});

describe('programmatic dependent launch (docs/pdl.md)', () => {
  it('on sm_90 every launch goes through cuLaunchKernelEx with programmatic stream serialization, eager and captured', () => {
    expect(dev.pdl).toBe(true);
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    for (let i = 0; i < 3; i++) {
      const x = rows(3);
      expect([...(ex.run({ x }).y.data as Float32Array)]).toEqual(expected(x.data as Float32Array));
    }
    ex.close();
    expect(fake.calls).not.toContain('cuLaunchKernel');
    expect(fake.exLaunches.length).toBeGreaterThan(0);
    // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6, allowed = 1; the grid and block decode as given
    for (const l of fake.exLaunches) expect(l.attrs).toEqual([[6, 1]]);
  });

  it('ARCTICC_PDL=0 launches with cuLaunchKernel, same results', () => {
    dev.release();
    resetDeviceRegistry();
    const saved = process.env.ARCTICC_PDL;
    process.env.ARCTICC_PDL = '0';
    try {
      fake = new FakeCuda();
      registerAffineKernels(fake);
      registerToyKernel(fake);
      dev = openDevice({ driver: fake });
    } finally {
      if (saved === undefined) delete process.env.ARCTICC_PDL; else process.env.ARCTICC_PDL = saved;
    }
    expect(dev.pdl).toBe(false);
    const ex = new PlanExecutor(dev, affinePlan(8), weights());
    const x = rows(5);
    expect([...(ex.run({ x }).y.data as Float32Array)]).toEqual(expected(x.data as Float32Array));
    ex.close();
    expect(fake.calls).toContain('cuLaunchKernel');
    expect(fake.exLaunches).toEqual([]);
  });
});

describe('packed outputs', () => {
  it('a run copies the outputs it wants back in one copy when they lie side by side, and each equals its own copy', () => {
    registerToyChainKernels(fake, 50);
    const ex = new PlanExecutor(dev, toyTargetPlan(8, 8, 50), new Map());
    const i32 = (a: number[]) => hostTensor('i32', [a.length], Int32Array.from(a));
    const inputs = { tokens: i32([3, 7, 11]), positions: i32([0, 1, 2]), slots: i32([0, 0, 0]), rows: i32([0, 2]) };
    const count = (): number => fake.calls.filter((c) => c === 'cuMemcpyDtoHAsync_v2').length;
    for (const outputs of [undefined, ['hidden'], ['next_tokens']]) {
      const before = count();
      const r = ex.run(inputs, outputs ? { outputs } : {});
      expect(count() - before).toBe(1);
      if (!outputs || outputs.includes('next_tokens')) expect([...(r.next_tokens.data as Int32Array)]).toEqual([toyNext(3, 0, 50), toyNext(11, 2, 50)]);
      if (!outputs || outputs.includes('hidden')) expect([...(r.hidden.data as Float32Array)]).toEqual([3, 0, 11, 2]);
    }
    ex.close();
  });
});
