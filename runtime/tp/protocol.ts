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

export interface InitMessage {
  readonly type: 'init';
  readonly rank: number;
  readonly ranks: number;
  readonly model: string;
  readonly collectiveTimeoutMs: number;
  readonly fault?: RankFault;
}
export interface ProposeMessage { readonly type: 'propose'; readonly id: number; readonly hidden: Float32Array; readonly tokens: Int32Array; readonly batch: number }
export interface GatheredMessage { readonly type: 'gathered'; readonly id: number; readonly seq: number; readonly data: Float32Array; readonly shape: readonly number[] }
export type ToWorker = InitMessage | ProposeMessage | GatheredMessage;

export interface ReadyMessage { readonly type: 'ready'; readonly rank: number; readonly hiddenSize: number; readonly vocabSize: number; readonly nPredict: number; readonly collectives: number }
export interface GatherMessage { readonly type: 'gather'; readonly rank: number; readonly id: number; readonly seq: number; readonly data: Float32Array; readonly shape: readonly number[] }
export interface DoneMessage { readonly type: 'done'; readonly rank: number; readonly id: number; readonly draft: Int32Array }
export interface ErrorMessage { readonly type: 'error'; readonly rank: number; readonly id: number | null; readonly message: string }
export type FromWorker = ReadyMessage | GatherMessage | DoneMessage | ErrorMessage;
