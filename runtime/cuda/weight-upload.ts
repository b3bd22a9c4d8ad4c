// Uploading a plan's weights: host tensors in one copy each; streamed weights (read on demand from a
// checkpoint) through two pinned staging chunks, so a 16 GB checkpoint passes through 2 × 64 MiB of host
// memory: chunk i is read from the file into one buffer while chunk i − 1 is copied from the other.
import type { WeightData } from '../weight-data.ts';
import { isStreamed } from '../weight-data.ts';
import type { CudaDevice } from './device.ts';
import type { CUdeviceptr } from './driver.ts';
import type { PinnedBuffer } from './memory.ts';

export const STAGING_CHUNK_BYTES = 64 << 20;

/** Copies every weight to its device buffer; returns when all copies are done (or throws, staging freed). */
export function uploadWeights(dev: CudaDevice, uploads: readonly (readonly [CUdeviceptr, WeightData])[], chunkBytes = STAGING_CHUNK_BYTES): void {
  const stage: PinnedBuffer[] = [];
  try {
    let k = 0;
    for (const [ptr, w] of uploads) {
      if (!isStreamed(w)) { dev.memory.upload(ptr, w.data, w.data.byteLength); continue; }
      if (stage.length === 0) stage.push(dev.memory.allocPinned(chunkBytes), dev.memory.allocPinned(chunkBytes));
      for (let off = 0; off < w.byteLength; off += chunkBytes) {
        const n = Math.min(chunkBytes, w.byteLength - off);
        const buf = stage[k++ & 1];
        // this buffer's previous copy finished at the last synchronize (only one copy is ever in flight)
        w.read(new Uint8Array(buf.view, 0, n), off);
        dev.synchronize();
        dev.cu('cuMemcpyHtoDAsync_v2', ptr + BigInt(off), buf.ptr, n, dev.stream);
      }
    }
    if (stage.length) dev.synchronize();
  } catch (e) {
    // a copy may still read a staging buffer: wait for it (best effort) before the buffers are freed
    if (stage.length && !dev.health.poisonedBy) { try { dev.synchronize(); } catch { /* the first error is the one to report */ } }
    throw e;
  } finally {
    for (const b of stage) dev.memory.freePinned(b);
  }
}
