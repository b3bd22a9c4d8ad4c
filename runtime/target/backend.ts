// What a target-model backend (CPU interpreter or CUDA plan) offers runtime/target/target-model.ts: one
// forward pass of the decoder program over N token rows, with the KV cache held inside as state.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import type { DeviceKind } from '../backend.ts';

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
  /** M×V logits, when asked for */
  readonly logits?: Float32Array;
}

export interface TargetBackend {
  readonly device: DeviceKind;
  readonly description: string;
  run(inputs: TargetStepInputs, o: { readonly logits: boolean }): Promise<TargetStepOutputs>;
  /** a copy of one layer's cache ([S, L, Hkv, D]), for tests and debugging */
  readCache(layer: number, kind: 'key' | 'value'): HostTensor;
  /** frees everything; idempotent */
  close(): void;
}
