// Device and pinned host memory with a tracked total, so leak tests can compare what we think we hold
// with what the driver reports, and an out-of-memory error can say how much was already taken.
import koffi from 'koffi';
import type { CUdeviceptr, HandleOut, HostMem, HostPtr } from './driver.ts';
import { CU_MEMHOSTALLOC_DEFAULT } from './constants.ts';
import type { CudaDevice } from './device.ts';

const OUT_OF_MEMORY = 2;
export const fmtBytes = (n: number): string =>
  n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

/** Page-locked host memory (cuMemHostAlloc) with a zero-copy ArrayBuffer view over it. */
export interface PinnedBuffer {
  readonly ptr: HostPtr;
  readonly bytes: number;
  readonly view: ArrayBuffer;
}

export class DeviceMemory {
  readonly #dev: CudaDevice;
  readonly #live = new Map<CUdeviceptr, { bytes: number; label: string }>();
  readonly #pinned = new Map<HostPtr, PinnedBuffer>();
  #total = 0;
  #pinnedTotal = 0;
  readonly #slot = new BigUint64Array(1);

  constructor(dev: CudaDevice) { this.#dev = dev; }

  /** bytes of device memory this process holds through this facade */
  get allocatedBytes(): number { return this.#total; }
  get liveAllocations(): number { return this.#live.size; }
  get pinnedBytes(): number { return this.#pinnedTotal; }

  /** cuMemAlloc_v2; out of memory → CudaError naming the buffer, the size, and what is held/free. */
  alloc(bytes: number, label: string): CUdeviceptr {
    const n = Math.max(16, Math.ceil(bytes));
    this.#dev.health.assertUsable('cuMemAlloc_v2');
    const rc = this.#dev.driver.cuMemAlloc_v2(this.#slot, n);
    if (rc !== 0) {
      let context = `allocating ${label} (${fmtBytes(n)})`;
      if (rc === OUT_OF_MEMORY) {
        const { free, total } = this.#infoOrZero();
        context += `: out of device memory with ${fmtBytes(this.#total)} already allocated by this process in ${this.#live.size} buffers, ${fmtBytes(free)} free of ${fmtBytes(total)}`;
      }
      throw this.#dev.fail('cuMemAlloc_v2', rc, { context });
    }
    const ptr = this.#slot[0];
    this.#live.set(ptr, { bytes: n, label });
    this.#total += n;
    return ptr;
  }

  free(ptr: CUdeviceptr): void {
    const a = this.#live.get(ptr);
    if (!a) throw new Error(`cuMemFree_v2: 0x${ptr.toString(16)} is not a live allocation of this device`);
    this.#live.delete(ptr);
    this.#total -= a.bytes;
    if (this.#dev.health.poisonedBy) return; // the driver refuses; the process must exit anyway
    this.#dev.cu('cuMemFree_v2', ptr);
  }

  /** (free, total) device memory from cuMemGetInfo_v2 */
  info(): { free: number; total: number } {
    const f = new BigUint64Array(1), t = new BigUint64Array(1);
    this.#dev.cu('cuMemGetInfo_v2', f, t);
    return { free: Number(f[0]), total: Number(t[0]) };
  }

  #infoOrZero(): { free: number; total: number } {
    try { return this.info(); } catch { return { free: 0, total: 0 }; }
  }

  allocPinned(bytes: number): PinnedBuffer {
    const n = Math.max(64, Math.ceil(bytes));
    const out: HandleOut = [null];
    this.#dev.health.assertUsable('cuMemHostAlloc');
    const rc = this.#dev.driver.cuMemHostAlloc(out, n, CU_MEMHOSTALLOC_DEFAULT);
    if (rc !== 0) throw this.#dev.fail('cuMemHostAlloc', rc, { context: `allocating ${fmtBytes(n)} of pinned host memory` });
    const ptr = out[0] as HostPtr;
    const buf: PinnedBuffer = { ptr, bytes: n, view: koffi.view(ptr, n) };
    this.#pinned.set(ptr, buf);
    this.#pinnedTotal += n;
    return buf;
  }

  freePinned(b: PinnedBuffer): void {
    if (!this.#pinned.delete(b.ptr)) return;
    this.#pinnedTotal -= b.bytes;
    if (this.#dev.health.poisonedBy) return;
    this.#dev.cu('cuMemFreeHost', b.ptr);
  }

  /** Host → device on the device's stream, then waits (pageable sources are staged by the driver). */
  upload(dst: CUdeviceptr, src: HostMem, bytes: number): void {
    this.#dev.cu('cuMemcpyHtoDAsync_v2', dst, src, bytes, this.#dev.stream);
    this.#dev.synchronize();
  }

  /** Device → host on the device's stream, then waits. */
  download(dst: HostMem, src: CUdeviceptr, bytes: number): void {
    this.#dev.cu('cuMemcpyDtoHAsync_v2', dst, src, bytes, this.#dev.stream);
    this.#dev.synchronize();
  }

  /** Fills bytes on the device's stream (ordered with launches; the legacy-stream cuMemsetD8_v2 is not). */
  memset(dst: CUdeviceptr, byte: number, bytes: number): void {
    this.#dev.cu('cuMemsetD8Async', dst, byte & 0xff, bytes, this.#dev.stream);
  }

  /** Frees everything still live (device teardown). */
  freeAll(): void {
    for (const ptr of [...this.#live.keys()]) this.free(ptr);
    for (const b of [...this.#pinned.values()]) this.freePinned(b);
  }
}
