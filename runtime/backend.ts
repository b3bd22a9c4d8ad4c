// What every execution backend offers the speculator front end (runtime/speculator.ts).

/** Where a speculator runs. */
export type DeviceKind = 'cpu' | 'cuda';

export interface ProposeBatch {
  /** B×H target hidden states, row-major: host memory, or a device pointer already range-checked */
  readonly hidden: Float32Array | bigint;
  /** B last tokens, already validated to lie in [0, V) */
  readonly tokens: Int32Array;
  readonly batch: number;
}

/** Access to device memory for requests that pass device pointers (CUDA backends only). */
export interface DevicePointers {
  /** throws a RangeError unless [ptr, ptr + bytes) lies inside one device allocation of this context */
  checkRange(ptr: bigint, bytes: number, what: string): void;
  /** copies n int32 values from the device (after checkRange) */
  readI32(ptr: bigint, n: number): Int32Array;
}

export interface Backend {
  readonly device: DeviceKind;
  /** e.g. "NVIDIA H200 (sm_90)" or "CPU (reference interpreter)" */
  readonly description: string;
  /** present when `propose` accepts device pointers */
  readonly pointers?: DevicePointers;
  /** B×n draft tokens, row-major */
  propose(batch: ProposeBatch): Promise<Int32Array>;
  /** frees everything the backend holds; idempotent */
  close(): void;
}
