// What every execution backend offers the speculator front end (runtime/speculator.ts).
import type { DraftPlanPort } from './cuda/step-graph.ts';

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

/** A draft enqueued on the device's stream and not waited for: the caller's next sync on that stream covers it. */
export interface EnqueuedDraft {
  /** rows in the draft (B) */
  readonly batch: number;
  /** the device address of draft token j of row i (int32), valid until the next draft is enqueued */
  tokenAddress(row: number, j: number): bigint;
  /** B×n draft tokens, row-major; only after a sync of the stream that followed enqueue() */
  collect(): Int32Array;
  /** drops the draft unread (after the stream was synchronized, or when nothing was enqueued) */
  discard(): void;
}

/**
 * A CUDA backend's draft without a host wait (runtime/engine/chained-draft.ts): the hidden rows are gathered
 * from device memory (another plan's output on the same stream) or staged from the host, the tokens staged,
 * the draft graph replayed and its output copy enqueued, all on the stream whose owner is `chainKey`.
 */
export interface DeviceDrafting {
  /** the stream's owner (the CudaDevice): a verify pass chains behind the draft only on the same one */
  readonly chainKey: object;
  /** the most rows one enqueue takes (one graph replay) */
  readonly maxBatch: number;
  /** `hidden`: B device addresses of H-float rows, or B×H host floats; `tokens`: B last tokens in [0, V) */
  enqueue(hidden: readonly bigint[] | Float32Array, tokens: Int32Array): EnqueuedDraft;
  /** the draft plan itself, for a target that captures it into its own step graph (runtime/cuda/step-graph.ts) */
  readonly port?: DraftPlanPort;
}

export interface Backend {
  readonly device: DeviceKind;
  /** e.g. "NVIDIA H200 (sm_90)" or "CPU (reference interpreter)" */
  readonly description: string;
  /** present when `propose` accepts device pointers */
  readonly pointers?: DevicePointers;
  /** B×n draft tokens, row-major */
  propose(batch: ProposeBatch): Promise<Int32Array>;
  /** present on CUDA: the draft enqueued without a wait, for a verify pass chained behind it */
  readonly deviceDrafting?: DeviceDrafting;
  /** frees everything the backend holds; idempotent */
  close(): void;
}
