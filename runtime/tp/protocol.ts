// The messages between the supervisor (runtime/tp/supervisor.ts) and its rank workers (worker.ts), over
// Node's IPC channel with the 'advanced' serialization (typed arrays travel as themselves).

/** Test-only faults a rank injects into itself (supervision tests). */
export interface RankFault {
  readonly rank: number;
  /** at this collective (seq) of the first proposal */
  readonly atCollective: number;
  /** exit: the process exits with code 3; hang: it stops answering; throw: its step throws */
  readonly action: 'exit' | 'hang' | 'throw';
}
// On CUDA the collectives run inside the rank's CUDA graph, so a fault fires once the first proposal's
// replay is enqueued (mid-proposal, the GPU busy), whatever atCollective says.

export interface InitMessage {
  readonly type: 'init';
  readonly rank: number;
  readonly ranks: number;
  readonly model: string;
  readonly collectiveTimeoutMs: number;
  readonly fault?: RankFault;
  /** 'cpu' (default): the interpreter, all-gathers answered over IPC; 'cuda': this rank's GPU, NCCL all-gathers in its CUDA graph */
  readonly device?: 'cpu' | 'cuda';
  /** with device 'cuda': the device ordinal (default: the rank) and the largest batch the kernels are sized for */
  readonly ordinal?: number;
  readonly maxBatch?: number;
}
/** the supervisor relays rank 0's NCCL unique id to every rank (rank 0 included); each then calls ncclCommInitRank */
export interface NcclIdMessage { readonly type: 'nccl-id'; readonly hex: string }
/** end now: abort the NCCL communicator (ncclCommAbort) and exit */
export interface AbortMessage { readonly type: 'abort' }
export interface ProposeMessage { readonly type: 'propose'; readonly id: number; readonly hidden: Float32Array; readonly tokens: Int32Array; readonly batch: number }
export interface GatheredMessage { readonly type: 'gathered'; readonly id: number; readonly seq: number; readonly data: Float32Array; readonly shape: readonly number[] }
export type ToWorker = InitMessage | ProposeMessage | GatheredMessage | NcclIdMessage | AbortMessage;

export interface ReadyMessage { readonly type: 'ready'; readonly rank: number; readonly hiddenSize: number; readonly vocabSize: number; readonly nPredict: number; readonly collectives: number; readonly description?: string }
/** rank 0 (CUDA): its ncclGetUniqueId, as 256 hex digits */
export interface UniqueIdMessage { readonly type: 'nccl-unique-id'; readonly rank: number; readonly hex: string }
export interface GatherMessage { readonly type: 'gather'; readonly rank: number; readonly id: number; readonly seq: number; readonly data: Float32Array; readonly shape: readonly number[] }
export interface DoneMessage { readonly type: 'done'; readonly rank: number; readonly id: number; readonly draft: Int32Array }
export interface ErrorMessage { readonly type: 'error'; readonly rank: number; readonly id: number | null; readonly message: string }
export type FromWorker = ReadyMessage | GatherMessage | DoneMessage | ErrorMessage | UniqueIdMessage;
