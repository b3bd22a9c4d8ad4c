// What a target-model backend (CPU interpreter or CUDA plan) offers runtime/target/target-model.ts: one
// forward pass of the decoder program over N token rows, with the KV cache held inside as state.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import type { DeviceKind } from '../backend.ts';
import type { DeviceSpan } from '../cuda/device-spans.ts';
import type { ChainRows, DraftPlanPort } from '../cuda/step-graph.ts';

export interface TargetStepInputs {
  /** N token rows (already validated): ids, positions (−1 = padding row), KV slots; read during run() only (the caller reuses them) */
  readonly tokens: Int32Array;
  readonly positions: Int32Array;
  readonly slots: Int32Array;
  /** M rows whose final hidden state and head output are wanted */
  readonly rows: Int32Array;
}

/** A run's outputs are arrays of its own (not reused by a later run): callers keep views into them. */
export interface TargetStepOutputs {
  /** M×H final-norm hidden states */
  readonly hidden: Float32Array;
  /** M argmax ids (ties to the lowest id) */
  readonly nextTokens: Int32Array;
  /** with TargetRunOptions.fusedDraft: N words, draft token j of draft row b at dst[b] + j (the rest undefined) */
  readonly draftTokens?: Int32Array;
  /** M×V logits, when asked for */
  readonly logits?: Float32Array;
}

/** What a CUDA target offers a draft chained in front of its verify pass (runtime/engine/chained-draft.ts). */
export interface TargetChain {
  /** the stream's owner (the CudaDevice): a draft chains in front only when it enqueues on the same one */
  readonly chainKey: object;
  /** the device address of row `row` of the last run's hidden output (H f32; overwritten by the next run) */
  hiddenRowAddress(row: number): bigint;
  /** whether run() takes a fusedDraft (a step graph with the draft plan inside: runtime/cuda/step-graph.ts) */
  readonly fusesDrafts: boolean;
}

export interface TargetRunOptions {
  readonly logits: boolean;
  /**
   * With a chain only: called after the inputs are checked and before the run's own copies are enqueued;
   * enqueues whatever must precede the pass on the stream (a draft) and returns device-to-device patches of
   * the `tokens` input (byte offsets into its rows), applied after the staged copy. The run's one stream
   * sync then covers both.
   */
  readonly beforeEnqueue?: () => readonly DeviceSpan[];
  /**
   * With a chain that fusesDrafts only (and no beforeEnqueue): the draft plan runs inside this run's step
   * graph, its hidden rows taken from the last run's hidden output (rows.src) and its tokens patched into
   * this run's token rows (rows.dst, rows.count); the outputs carry draftTokens.
   */
  readonly fusedDraft?: { readonly port: DraftPlanPort; readonly rows: ChainRows };
  /**
   * Host work to overlap with the pass (docs/suffix-overlap.md): called once, on this thread, after the pass is
   * enqueued and before the wait for it (CUDA), or after the pass (CPU). If it throws, the pass is still
   * waited for and its outputs dropped, and the error is the run's.
   */
  readonly whileRunning?: () => void;
}

export interface TargetBackend {
  readonly device: DeviceKind;
  readonly description: string;
  /** present on CUDA */
  readonly chain?: TargetChain;
  run(inputs: TargetStepInputs, o: TargetRunOptions): Promise<TargetStepOutputs>;
  /** a copy of one layer's cache ([S, L, Hkv, D]), for tests and debugging */
  readCache(layer: number, kind: 'key' | 'value'): HostTensor;
  /** frees everything; idempotent */
  close(): void;
}
