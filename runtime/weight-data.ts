// A weight as a plan's runtime receives it: a tensor in host memory, or a description whose bytes are read
// on demand (a checkpoint tensor streamed to the device chunk by chunk, so the host never holds it whole).
import type { DType } from '../compiler/ir/dtype.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';

/** A weight read on demand: `read` fills `dst` with the bytes from byte `offset` of the tensor on. */
export interface StreamedWeight {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  read(dst: Uint8Array, offset: number): void;
}

export type WeightData = HostTensor | StreamedWeight;

export const isStreamed = (w: WeightData): w is StreamedWeight => !('data' in w);
export const weightByteLength = (w: WeightData): number => (isStreamed(w) ? w.byteLength : w.data.byteLength);
