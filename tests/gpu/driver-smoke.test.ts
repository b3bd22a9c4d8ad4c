// The driver table and the facade on a real GPU, with hand-written PTX only: module load (and JIT logs),
// launches, copies (pageable, pinned, device-to-device), memset, events, graph capture and replay, and
// the tracked memory total.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CudaDevice } from '../../runtime/cuda/device.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { CudaError } from '../../runtime/cuda/errors.ts';
import { CudaGraph, EventTimer } from '../../runtime/cuda/graph.ts';
import { ArgBlock, launchKernel } from '../../runtime/cuda/launch.ts';
import { CU_FUNC_ATTRIBUTE } from '../../runtime/cuda/constants.ts';
import { cudaAvailable } from '../../runtime/cuda/backend.ts';
import { BAD_PTX, FUTURE_PTX, VADD_PTX } from './ptx-kernels.ts';
import { describeGpu, freshSeed, rng } from './gpu-env.ts';

describeGpu('CUDA driver and facade (hand-written PTX)', () => {
  let dev: CudaDevice;
  const seed = freshSeed();
  const rand = rng(seed);
  beforeAll(() => { dev = openDevice(); });
  afterAll(() => { dev?.release(); });

  it('opens device 0 and reports it', () => {
    const a = cudaAvailable();
    expect(a.ok, a.ok ? '' : a.reason).toBe(true);
    console.log(`[gpu] ${dev.description}; driver ${dev.info.driverVersion}; ${dev.info.multiprocessors} SMs; cudaAvailable: ${a.ok ? a.description : ''}`);
    expect(dev.info.computeCapability[0]).toBeGreaterThanOrEqual(9);
    expect(dev.info.driverVersion).toBeGreaterThanOrEqual(12000);
  });

  it('vadd: JIT-load, launch with a packed argument block, copy back; every element written', () => {
    const base = dev.memory.allocatedBytes;
    const mod = dev.modules.load(VADD_PTX, 'vadd');
    expect(dev.modules.load(VADD_PTX, 'vadd again')).toBe(mod); // cached by PTX hash
    dev.modules.release(mod);
    const fn = mod.function('vadd');
    const regs = new Int32Array(1);
    dev.cu('cuFuncGetAttribute', regs, CU_FUNC_ATTRIBUTE.NUM_REGS, fn);
    expect(regs[0]).toBeGreaterThan(0);
    const n = (1 << 20) + 3; // a partial last block
    const a = Float32Array.from({ length: n }, () => Math.round((rand() - 0.5) * 2000) / 8);
    const b = Float32Array.from({ length: n }, () => Math.round((rand() - 0.5) * 2000) / 8);
    const [pa, pb, po] = ['a', 'b', 'out'].map((l) => dev.memory.alloc(n * 4, l));
    dev.cu('cuMemcpyHtoD_v2', pa, a, n * 4); // the synchronous (legacy stream) copies, once each
    dev.cu('cuMemcpyHtoD_v2', pb, b, n * 4);
    dev.cu('cuMemsetD8_v2', po, 0xff, n * 4);
    dev.cu('cuCtxSynchronize');
    const args = new ArgBlock(32).pack(['u64', 'u64', 'u64', 'u32'], [po, pa, pb, n]);
    launchKernel(dev, fn, { grid: [Math.ceil(n / 256), 1, 1], block: [256, 1, 1], sharedBytes: 0 }, args, 'vadd');
    dev.synchronize();
    const out = new Float32Array(n);
    dev.cu('cuMemcpyDtoH_v2', out, po, n * 4);
    let bad = -1;
    for (let i = 0; i < n; i++) if (out[i] !== Math.fround(a[i] + b[i])) { bad = i; break; }
    expect(bad, `seed ${seed}: out[${bad}] = ${out[bad]}, want ${a[bad] + b[bad]}`).toBe(-1);
    for (const p of [pa, pb, po]) dev.memory.free(p);
    expect(dev.memory.allocatedBytes).toBe(base);
    dev.modules.release(mod);
  });

  it('PTX the driver rejects: CudaError with the JIT error log', () => {
    let err: unknown;
    try { dev.modules.load(BAD_PTX, 'bad vadd'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CudaError);
    const e = err as CudaError;
    expect(e.code).toBe(218);
    expect(e.errorName).toBe('CUDA_ERROR_INVALID_PTX');
    expect(e.jitLog).toMatch(/Not a name of any known instruction: 'addd'/);
    expect(e.message).toMatch(/^cuModuleLoadDataEx failed with CUDA_ERROR_INVALID_PTX \(218\).*while loading bad vadd[^]*JIT error log:\n.*addd/);
    let e2: unknown;
    try { dev.modules.load(FUTURE_PTX, 'future vadd'); } catch (x) { e2 = x; }
    expect((e2 as CudaError).errorName).toBe('CUDA_ERROR_UNSUPPORTED_PTX_VERSION');
    expect((e2 as CudaError).jitLog).toMatch(/Unsupported \.version 9\.9/);
    expect(dev.health.poisonedBy).toBe(null); // a JIT error is not a fault
  });

  it('pinned staging, async copies on the stream, device-to-device copy, memset', () => {
    const n = 1 << 16;
    const src = dev.memory.allocPinned(n * 4), dst = dev.memory.allocPinned(n * 4);
    const s = new Float32Array(src.view, 0, n);
    for (let i = 0; i < n; i++) s[i] = rand();
    const p1 = dev.memory.alloc(n * 4, 'p1'), p2 = dev.memory.alloc(n * 4, 'p2');
    dev.cu('cuMemcpyHtoDAsync_v2', p1, src.ptr, n * 4, dev.stream);
    dev.memory.memset(p2, 0xff, n * 4);
    dev.cu('cuMemcpyDtoDAsync_v2', p2, p1, n * 4, dev.stream);
    dev.cu('cuMemcpyDtoHAsync_v2', dst.ptr, p2, n * 4, dev.stream);
    dev.synchronize();
    expect(Buffer.from(dst.view, 0, n * 4).equals(Buffer.from(src.view, 0, n * 4))).toBe(true);
    dev.memory.memset(p2, 0x3c, 16);
    const back = new Uint8Array(16);
    dev.memory.download(back, p2, 16);
    expect([...back]).toEqual(new Array(16).fill(0x3c));
    for (const p of [p1, p2]) dev.memory.free(p);
    dev.memory.freePinned(src);
    dev.memory.freePinned(dst);
  });

  it('stream capture → graph → replay equals eager launches; events time it', () => {
    const mod = dev.modules.load(VADD_PTX, 'vadd');
    const fn = mod.function('vadd');
    const n = 4096;
    const b = Float32Array.from({ length: n }, () => Math.round(rand() * 64));
    const pb = dev.memory.alloc(n * 4, 'b'), acc = dev.memory.alloc(n * 4, 'acc');
    dev.memory.upload(pb, b, n * 4);
    dev.memory.memset(acc, 0, n * 4);
    const args = new ArgBlock(32).pack(['u64', 'u64', 'u64', 'u32'], [acc, acc, pb, n]);
    const step = () => launchKernel(dev, fn, { grid: [n / 256, 1, 1], block: [256, 1, 1], sharedBytes: 0 }, args, 'vadd');
    const g = CudaGraph.capture(dev, () => { for (let i = 0; i < 10; i++) step(); });
    const t = new EventTimer(dev);
    t.start();
    for (let r = 0; r < 3; r++) g.launch();
    t.stop();
    const ms = t.elapsedMs();
    for (let i = 0; i < 5; i++) step(); // eager
    const out = new Float32Array(n);
    dev.memory.download(out, acc, n * 4);
    expect([...out.subarray(0, 64)]).toEqual([...b.subarray(0, 64)].map((v) => 35 * v));
    expect(out.every((v, i) => v === 35 * b[i])).toBe(true);
    expect(ms).toBeGreaterThan(0);
    console.log(`[gpu] 30 vadd launches from a graph (3 replays): ${(ms * 1000).toFixed(1)} µs`);
    g.destroy();
    t.destroy();
    dev.memory.free(pb);
    dev.memory.free(acc);
    dev.modules.release(mod);
  });

  it('device memory: the tracked total and cuMemGetInfo agree across alloc/free', () => {
    const base = dev.memory.allocatedBytes;
    const free0 = dev.memory.info().free;
    const ptrs = [256, 1 << 20, 64 << 20].map((s, i) => dev.memory.alloc(s, `m${i}`));
    expect(dev.memory.allocatedBytes - base).toBe(256 + (1 << 20) + (64 << 20));
    const free1 = dev.memory.info().free;
    expect(free0 - free1).toBeGreaterThanOrEqual(64 << 20);
    for (const p of ptrs) dev.memory.free(p);
    expect(dev.memory.allocatedBytes).toBe(base);
    expect(Math.abs(dev.memory.info().free - free0)).toBeLessThanOrEqual(2 << 20);
  });
});
