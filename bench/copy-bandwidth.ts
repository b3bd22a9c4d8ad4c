// Device-to-device copy bandwidth, measured in the benchmark's own run: the floor every bandwidth-bound row
// is divided by (bench/gpu-bench.ts, bench/target-bench.ts).
import type { CudaDevice } from '../runtime/cuda/device.ts';
import { EventTimer } from '../runtime/cuda/graph.ts';
import { median } from './random-weights.ts';

/** Device-to-device copy of 1 GiB on the stream, timed with events (median of 10 after 3 warm-ups); bytes read + written. */
export function copyBandwidth(dev: CudaDevice): { gbps: number; ms: number; bytes: number } {
  const bytes = 1 << 30;
  const a = dev.memory.alloc(bytes, 'copy src'), b = dev.memory.alloc(bytes, 'copy dst');
  const t = new EventTimer(dev);
  try {
    dev.memory.memset(a, 0x5a, bytes);
    const ms: number[] = [];
    for (let i = 0; i < 13; i++) {
      t.start();
      dev.cu('cuMemcpyDtoDAsync_v2', b, a, bytes, dev.stream);
      t.stop();
      const m = t.elapsedMs();
      if (i >= 3) ms.push(m);
    }
    const m = median(ms);
    return { gbps: (2 * bytes) / (m / 1e3) / 1e9, ms: m, bytes };
  } finally {
    t.destroy();
    dev.memory.free(a);
    dev.memory.free(b);
  }
}
