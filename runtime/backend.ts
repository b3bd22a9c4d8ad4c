// What every execution backend offers the speculator front end (runtime/speculator.ts).
export type DeviceKind = 'cpu' | 'cuda';

export interface ProposeBatch {
  /** B×H target hidden states, row-major */
  readonly hidden: Float32Array;
  /** B last tokens, already validated to lie in [0, V) */
  readonly tokens: Int32Array;
  readonly batch: number;
}

export interface Backend {
  readonly device: DeviceKind;
  /** e.g. "NVIDIA H200 (sm_90)" or "CPU (reference interpreter)" */
  readonly description: string;
  /** B×n draft tokens, row-major */
  propose(batch: ProposeBatch): Promise<Int32Array>;
  /** frees everything the backend holds; idempotent */
  close(): void;
}
