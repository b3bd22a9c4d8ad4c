// Device-to-device copy lists for chained plans (runtime/engine/chained-draft.ts): rows of one plan's output
// gathered into another plan's input, and draft tokens patched into a verify pass's token rows. Spans whose
// source and destination both continue the previous one are merged, so contiguous rows go in one copy.
import type { CUdeviceptr } from './driver.ts';

/** `bytes` copied device to device from `src` to byte `offset` of a plan buffer (at the run's padded dims). */
export interface DeviceSpan {
  readonly src: CUdeviceptr;
  readonly offset: number;
  readonly bytes: number;
}

/** `srcs[i]` (a device row of `rowBytes`) to row i of the destination; runs of adjacent sources merged. */
export function rowGather(srcs: readonly bigint[], rowBytes: number): DeviceSpan[] {
  return mergeSpans(srcs.map((src, i) => ({ src, offset: i * rowBytes, bytes: rowBytes })));
}

/** Spans in order, each merged into the one before when both its source and destination continue it. */
export function mergeSpans(spans: readonly DeviceSpan[]): DeviceSpan[] {
  const out: DeviceSpan[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && last.offset + last.bytes === s.offset && last.src + BigInt(last.bytes) === s.src) out[out.length - 1] = { src: last.src, offset: last.offset, bytes: last.bytes + s.bytes };
    else out.push(s);
  }
  return out;
}

/** Throws a RangeError naming `what` unless every span lies inside [0, limit) with a positive length. */
export function checkSpans(spans: readonly DeviceSpan[], limit: number, what: string): void {
  for (const g of spans) {
    if (!(Number.isInteger(g.offset) && Number.isInteger(g.bytes) && g.offset >= 0 && g.bytes > 0 && g.offset + g.bytes <= limit)) {
      throw new RangeError(`${what}: device span of ${g.bytes} bytes at offset ${g.offset} lies outside its ${limit} bytes`);
    }
  }
}
