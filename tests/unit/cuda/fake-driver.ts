// A CPU stand-in for libcuda with the CudaDriver shape, so the facade and the executor can be tested
// without a GPU. Memory is real host bytes; "kernels" are JS functions registered by entry name; graph
// capture records launches with their argument bytes copied at capture time, as the driver does; a
// kernel that throws FakeFault behaves like a device fault (launch succeeds, the next sync fails, and
// every later call returns the same code).
import koffi from 'koffi';
import type { CudaDriver, CUresult, HandleOut, HostMem } from '../../../runtime/cuda/driver.ts';

export class FakeFault extends Error {
  readonly code: number;
  constructor(code = 700) { super(`fake fault ${code}`); this.code = code; }
}

export interface KernelCall {
  readonly grid: readonly number[];
  readonly block: readonly number[];
  /** raw 8 bytes of each argument, copied when the launch was issued (or captured) */
  readonly args: readonly Uint8Array[];
  u64(i: number): bigint;
  u32(i: number): number;
  f32(i: number): number;
  /** a byte view of device memory at `ptr` */
  mem(ptr: bigint, bytes: number): Uint8Array;
  f32s(ptr: bigint, n: number): Float32Array;
  i32s(ptr: bigint, n: number): Int32Array;
}
export type FakeKernel = (k: KernelCall) => void;

const ERR_NAMES: Record<number, string> = { 1: 'CUDA_ERROR_INVALID_VALUE', 2: 'CUDA_ERROR_OUT_OF_MEMORY', 218: 'CUDA_ERROR_INVALID_PTX', 400: 'CUDA_ERROR_INVALID_HANDLE', 500: 'CUDA_ERROR_NOT_FOUND', 700: 'CUDA_ERROR_ILLEGAL_ADDRESS' };

interface Launch { fn: string; grid: number[]; block: number[]; args: Uint8Array[] }

export class FakeCuda implements CudaDriver {
  /** device memory capacity in bytes (cuMemAlloc fails with OUT_OF_MEMORY beyond it) */
  capacity = 1 << 30;
  used = 0;
  readonly allocs = new Map<bigint, Uint8Array>();
  readonly kernels = new Map<string, FakeKernel>();
  readonly calls: string[] = [];
  readonly launches: string[] = [];
  /** every cuMemcpyDtoDAsync_v2, in order: destination, source and bytes (tests check the rows chained plans move) */
  readonly dtod: { dst: bigint; src: bigint; bytes: number }[] = [];
  /** every host-to-device copy's size, in order */
  readonly htodBytes: number[] = [];
  graphLaunches = 0;
  /** true while cuGraphLaunch runs a graph's launches (a kernel can tell a replay from an eager warm-up launch) */
  replaying = false;
  modulesLoaded = 0;
  #next = 0x7f00_0000_0000n;
  #handle = 1000n;
  #sticky = 0;
  #pendingFault = 0;
  #capture: Launch[] | null = null;
  readonly #graphs = new Map<bigint, Launch[]>();
  readonly #execs = new Map<bigint, Launch[]>();
  readonly #modules = new Map<bigint, Set<string>>();
  readonly #fns = new Map<bigint, string>();
  readonly #pinned = new Map<bigint, unknown>();

  constructor() { registerChainKernels(this.kernels); }

  #h(): bigint { return this.#handle++; }
  #log(name: string): number {
    this.calls.push(name);
    return this.#sticky;
  }

  /** f32 values of device memory (tests inspect buffers) */
  f32(ptr: bigint, n: number): Float32Array { return new Float32Array(this.mem(ptr, n * 4).slice().buffer); }

  /** the allocation holding [ptr, ptr+bytes) */
  mem(ptr: bigint, bytes: number): Uint8Array {
    for (const [base, buf] of this.allocs) {
      if (ptr >= base && ptr + BigInt(bytes) <= base + BigInt(buf.length)) {
        const off = Number(ptr - base);
        return buf.subarray(off, off + bytes);
      }
    }
    throw new FakeFault(700);
  }
  #host(p: HostMem, bytes: number): Uint8Array {
    if (typeof p === 'bigint') return new Uint8Array(koffi.view(p, bytes));
    return new Uint8Array(p.buffer, p.byteOffset, bytes);
  }

  cuInit(): CUresult { return this.#log('cuInit'); }
  cuDriverGetVersion(out: Int32Array): CUresult { out[0] = 13000; return this.#log('cuDriverGetVersion'); }
  cuDeviceGet(out: Int32Array, ordinal: number): CUresult { out[0] = ordinal; return this.#log('cuDeviceGet'); }
  cuDeviceGetCount(out: Int32Array): CUresult { out[0] = 1; return this.#log('cuDeviceGetCount'); }
  cuDeviceGetName(name: Uint8Array): CUresult { name.set(new TextEncoder().encode('Fake GPU\0')); return this.#log('cuDeviceGetName'); }
  cuDeviceGetAttribute(out: Int32Array, attrib: number): CUresult { out[0] = attrib === 75 ? 9 : attrib === 76 ? 0 : 132; return this.#log('cuDeviceGetAttribute'); }
  cuDevicePrimaryCtxRetain(out: HandleOut): CUresult { out[0] = 1n; return this.#log('cuDevicePrimaryCtxRetain'); }
  cuDevicePrimaryCtxRelease_v2(): CUresult { return this.#log('cuDevicePrimaryCtxRelease_v2'); }
  cuCtxSetCurrent(): CUresult { return this.#log('cuCtxSetCurrent'); }
  cuCtxSynchronize(): CUresult { return this.#sync('cuCtxSynchronize'); }
  cuModuleLoadDataEx(out: HandleOut, image: Uint8Array, _n: number, _opts: Int32Array, values: BigUint64Array): CUresult {
    const rc = this.#log('cuModuleLoadDataEx');
    if (rc) return rc;
    const ptx = new TextDecoder().decode(image).replace(/\0$/, '');
    const bad = /^\s*BAD\b.*$/m.exec(ptx);
    if (bad) {
      const log = new TextEncoder().encode(`ptxas application ptx input, line 3; error : Not a name of any known instruction: '${bad[0].trim()}'\0`);
      new Uint8Array(koffi.view(values[0], log.length)).set(log);
      values[1] = BigInt(log.length - 1);
      return 218;
    }
    const h = this.#h();
    this.#modules.set(h, new Set([...ptx.matchAll(/\.entry\s+(\w+)/g)].map((m) => m[1])));
    this.modulesLoaded++;
    values[1] = 0n;
    values[3] = 0n;
    out[0] = h;
    return 0;
  }
  cuModuleUnload(mod: bigint): CUresult { this.#modules.delete(mod); return this.#log('cuModuleUnload'); }
  cuModuleGetFunction(out: HandleOut, mod: bigint, name: string): CUresult {
    const rc = this.#log('cuModuleGetFunction');
    if (rc) return rc;
    if (!this.#modules.get(mod)?.has(name)) return 500;
    const h = this.#h();
    this.#fns.set(h, name);
    out[0] = h;
    return 0;
  }
  cuFuncSetAttribute(): CUresult { return this.#log('cuFuncSetAttribute'); }
  cuFuncGetAttribute(out: Int32Array): CUresult { out[0] = 1024; return this.#log('cuFuncGetAttribute'); }
  cuMemAlloc_v2(out: BigUint64Array, bytes: number | bigint): CUresult {
    const rc = this.#log('cuMemAlloc_v2');
    if (rc) return rc;
    const n = Number(bytes);
    if (this.used + n > this.capacity) return 2;
    const base = this.#next;
    this.#next += BigInt(Math.ceil(n / 256) * 256 + 256);
    // fresh device memory is not zero on a real GPU either
    this.allocs.set(base, new Uint8Array(n).fill(0xa5));
    this.used += n;
    out[0] = base;
    return 0;
  }
  cuMemFree_v2(ptr: bigint): CUresult {
    const rc = this.#log('cuMemFree_v2');
    if (rc) return rc;
    const b = this.allocs.get(ptr);
    if (!b) return 1;
    this.used -= b.length;
    this.allocs.delete(ptr);
    return 0;
  }
  cuMemGetInfo_v2(free: BigUint64Array, total: BigUint64Array): CUresult {
    free[0] = BigInt(this.capacity - this.used);
    total[0] = BigInt(this.capacity);
    return this.#log('cuMemGetInfo_v2');
  }
  cuMemGetAddressRange_v2(base: BigUint64Array, size: BigUint64Array, dptr: bigint): CUresult {
    const rc = this.#log('cuMemGetAddressRange_v2');
    if (rc) return rc;
    for (const [b, buf] of this.allocs) {
      if (dptr >= b && dptr < b + BigInt(buf.length)) { base[0] = b; size[0] = BigInt(buf.length); return 0; }
    }
    return 500;
  }
  #copyIn(name: string, dst: bigint, src: HostMem, bytes: number | bigint): CUresult {
    const rc = this.#log(name);
    if (rc) return rc;
    const n = Number(bytes);
    this.htodBytes.push(n);
    try { this.mem(dst, n).set(this.#host(src, n)); } catch { return 1; }
    return 0;
  }
  #copyOut(name: string, dst: HostMem, src: bigint, bytes: number | bigint): CUresult {
    const rc = this.#log(name);
    if (rc) return rc;
    const n = Number(bytes);
    try { this.#host(dst, n).set(this.mem(src, n)); } catch { return 1; }
    return 0;
  }
  cuMemcpyHtoD_v2(dst: bigint, src: HostMem, bytes: number | bigint): CUresult { return this.#copyIn('cuMemcpyHtoD_v2', dst, src, bytes); }
  cuMemcpyDtoH_v2(dst: HostMem, src: bigint, bytes: number | bigint): CUresult { return this.#copyOut('cuMemcpyDtoH_v2', dst, src, bytes); }
  cuMemcpyHtoDAsync_v2(dst: bigint, src: HostMem, bytes: number | bigint): CUresult { return this.#copyIn('cuMemcpyHtoDAsync_v2', dst, src, bytes); }
  cuMemcpyDtoHAsync_v2(dst: HostMem, src: bigint, bytes: number | bigint): CUresult { return this.#copyOut('cuMemcpyDtoHAsync_v2', dst, src, bytes); }
  cuMemcpyDtoDAsync_v2(dst: bigint, src: bigint, bytes: number | bigint): CUresult {
    const rc = this.#log('cuMemcpyDtoDAsync_v2');
    if (rc) return rc;
    this.dtod.push({ dst, src, bytes: Number(bytes) });
    this.mem(dst, Number(bytes)).set(this.mem(src, Number(bytes)));
    return 0;
  }
  cuMemsetD8_v2(dst: bigint, v: number, n: number | bigint): CUresult { const rc = this.#log('cuMemsetD8_v2'); if (!rc) this.mem(dst, Number(n)).fill(v); return rc; }
  cuMemsetD8Async(dst: bigint, v: number, n: number | bigint): CUresult { const rc = this.#log('cuMemsetD8Async'); if (!rc) this.mem(dst, Number(n)).fill(v); return rc; }
  cuMemHostAlloc(out: HandleOut, bytes: number | bigint): CUresult {
    const rc = this.#log('cuMemHostAlloc');
    if (rc) return rc;
    const p = koffi.alloc('uint8_t', Number(bytes)) as bigint;
    this.#pinned.set(p, p);
    out[0] = p;
    return 0;
  }
  cuMemFreeHost(p: bigint): CUresult {
    const rc = this.#log('cuMemFreeHost');
    if (rc) return rc;
    if (!this.#pinned.delete(p)) return 1;
    koffi.free(p);
    return 0;
  }
  get pinnedLive(): number { return this.#pinned.size; }

  cuLaunchKernel(fn: bigint, gx: number, gy: number, gz: number, bx: number, by: number, bz: number, _s: number, _st: bigint, params: BigUint64Array): CUresult {
    const rc = this.#log('cuLaunchKernel');
    if (rc) return rc;
    const name = this.#fns.get(fn);
    if (!name) return 400;
    this.#launch(name, [gx, gy, gz], [bx, by, bz], params);
    return 0;
  }
  /** a launch captured or run, with the argument values copied at the call (as the driver does) */
  #launch(fn: string, grid: Launch['grid'], block: Launch['block'], params: BigUint64Array): void {
    const args = [...params].map((a) => new Uint8Array(koffi.view(a, 8)).slice());
    const l: Launch = { fn, grid, block, args };
    if (this.#capture) this.#capture.push(l);
    else this.#run(l);
  }
  /** Launches through cuLaunchKernelEx, with the attributes they carried ([id, int value] pairs). */
  readonly exLaunches: { fn: string; attrs: [number, number][] }[] = [];
  cuLaunchKernelEx(config: Uint8Array, fn: bigint, params: BigUint64Array): CUresult {
    const rc = this.#log('cuLaunchKernelEx');
    if (rc) return rc;
    const name = this.#fns.get(fn);
    if (!name) return 400;
    // CUlaunchConfig (cuda.h 13.0): grid x/y/z, block x/y/z, sharedMemBytes, pad, hStream @32, attrs @40, numAttrs @48
    if (config.byteLength < 56) return 1;
    const v = new DataView(config.buffer, config.byteOffset, 56);
    const u = (o: number): number => v.getUint32(o, true);
    const n = u(48), at = v.getBigUint64(40, true);
    const attrs: [number, number][] = [];
    if (n > 0) {
      // CUlaunchAttribute: id (4), pad (4), value union (64)
      const a = new DataView(koffi.view(at, 72 * n));
      for (let i = 0; i < n; i++) attrs.push([a.getUint32(72 * i, true), a.getInt32(72 * i + 8, true)]);
    }
    this.exLaunches.push({ fn: name, attrs });
    this.#launch(name, [u(0), u(4), u(8)], [u(12), u(16), u(20)], params);
    return 0;
  }
  #run(l: Launch): void {
    this.launches.push(l.fn);
    if (this.#pendingFault || this.#sticky) return;
    const k = this.kernels.get(l.fn);
    if (!k) throw new Error(`fake: no JS implementation for kernel ${l.fn}`);
    const dv = (i: number) => new DataView(l.args[i].buffer);
    try {
      k({
        grid: l.grid, block: l.block, args: l.args,
        u64: (i) => dv(i).getBigUint64(0, true), u32: (i) => dv(i).getUint32(0, true), f32: (i) => dv(i).getFloat32(0, true),
        mem: (p, n) => this.mem(p, n),
        f32s: (p, n) => { const m = this.mem(p, n * 4); return new Float32Array(m.buffer, m.byteOffset, n); },
        i32s: (p, n) => { const m = this.mem(p, n * 4); return new Int32Array(m.buffer, m.byteOffset, n); },
      });
    } catch (e) {
      if (e instanceof FakeFault) this.#pendingFault = e.code;
      else throw e;
    }
  }
  #sync(name: string): CUresult {
    const rc = this.#log(name);
    if (rc) return rc;
    if (this.#pendingFault) { this.#sticky = this.#pendingFault; this.#pendingFault = 0; return this.#sticky; }
    return 0;
  }
  cuStreamCreate(out: HandleOut): CUresult { out[0] = this.#h(); return this.#log('cuStreamCreate'); }
  cuStreamDestroy_v2(): CUresult { return this.#log('cuStreamDestroy_v2'); }
  cuStreamSynchronize(): CUresult { return this.#sync('cuStreamSynchronize'); }
  cuEventCreate(out: HandleOut): CUresult { out[0] = this.#h(); return this.#log('cuEventCreate'); }
  cuEventRecord(): CUresult { return this.#log('cuEventRecord'); }
  cuEventSynchronize(): CUresult { return this.#sync('cuEventSynchronize'); }
  cuEventElapsedTime_v2(out: Float32Array): CUresult { out[0] = 0.5; return this.#log('cuEventElapsedTime_v2'); }
  cuEventDestroy_v2(): CUresult { return this.#log('cuEventDestroy_v2'); }
  cuStreamBeginCapture_v2(): CUresult { this.#capture = []; return this.#log('cuStreamBeginCapture_v2'); }
  cuStreamEndCapture(_s: bigint, out: HandleOut): CUresult {
    const rc = this.#log('cuStreamEndCapture');
    const h = this.#h();
    this.#graphs.set(h, this.#capture ?? []);
    this.#capture = null;
    out[0] = h;
    return rc;
  }
  cuGraphInstantiateWithFlags(out: HandleOut, graph: bigint): CUresult {
    const rc = this.#log('cuGraphInstantiateWithFlags');
    if (rc) return rc;
    const g = this.#graphs.get(graph);
    if (!g) return 400;
    const h = this.#h();
    this.#execs.set(h, g);
    out[0] = h;
    return 0;
  }
  cuGraphLaunch(exec: bigint): CUresult {
    const rc = this.#log('cuGraphLaunch');
    if (rc) return rc;
    const g = this.#execs.get(exec);
    if (!g) return 400;
    this.graphLaunches++;
    this.replaying = true;
    try { for (const l of g) this.#run(l); } finally { this.replaying = false; }
    return 0;
  }
  cuGraphExecDestroy(exec: bigint): CUresult { this.#execs.delete(exec); return this.#log('cuGraphExecDestroy'); }
  cuGraphDestroy(g: bigint): CUresult { this.#graphs.delete(g); return this.#log('cuGraphDestroy'); }
  get liveGraphs(): number { return this.#graphs.size + this.#execs.size; }
  cuGetErrorName(code: CUresult, out: (string | null)[]): CUresult { out[0] = ERR_NAMES[code] ?? null; return out[0] ? 0 : 1; }
  cuGetErrorString(code: CUresult, out: (string | null)[]): CUresult { out[0] = code === 700 ? 'an illegal memory access was encountered' : code === 2 ? 'out of memory' : null; return out[0] ? 0 : 1; }
  streamSynchronizeAsync(): Promise<CUresult> { return Promise.resolve(this.cuStreamSynchronize()); }
}

/**
 * The fused step's runtime kernels (compiler/codegen/ptx/kernel-chain.ts) in JS, as the PTX defines them (the
 * PTX itself is checked against a host reference on the PTX machine: tests/unit/codegen/chain-kernels.test.ts).
 */
function registerChainKernels(kernels: Map<string, FakeKernel>): void {
  const HEADER = 4;
  const block = (k: KernelCall, cap: number): Int32Array => k.i32s(k.u64(0), HEADER + 4 * cap);
  kernels.set('arcticc_chain_gather', (k) => {
    const cap = k.u32(1), H = k.u32(5), w = block(k, cap), count = w[0];
    for (let b = 0; b < k.grid[0]; b++) {
      const dst = k.f32s(k.u64(3) + BigInt(4 * b * H), H);
      if (b < count) dst.set(k.f32s(k.u64(2) + BigInt(4 * w[HEADER + b] * H), H)); else dst.fill(0);
      k.i32s(k.u64(4) + BigInt(4 * b), 1)[0] = b < count ? w[HEADER + cap + b] : 0;
    }
  });
  kernels.set('arcticc_chain_scatter', (k) => {
    const cap = k.u32(1), n = k.u32(3), stride = k.u32(4), w = block(k, cap), count = w[0];
    for (let b = 0; b < Math.min(count, k.grid[0]); b++) {
      const dst = w[HEADER + 2 * cap + b], cnt = w[HEADER + 3 * cap + b];
      for (let j = 0; j < cnt; j++) {
        const t = k.i32s(k.u64(2) + BigInt(4 * (stride === 0 ? b * n + j : j * stride + b)), 1)[0];
        k.i32s(k.u64(5) + BigInt(4 * (dst + j)), 1)[0] = t;
        k.i32s(k.u64(6) + BigInt(4 * (dst + j)), 1)[0] = t;
      }
    }
  });
}
