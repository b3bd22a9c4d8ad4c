// One rank of a tensor-parallel speculator on its own GPU (inside a worker process, runtime/tp/worker.ts):
// the rank program compiled stage by stage (compileRankStages), run by the RankExecutor with
// ncclAllGather between the stages inside one captured CUDA graph per batch bucket. Rank 0 makes the
// NCCL unique id; every rank joins with ncclCommInitRank while its device's primary context is current.
// A proposal waits for the stream on a koffi worker thread while this thread polls the communicator's
// asynchronous error and a deadline: a peer that died or a collective that never completes aborts the
// communicator (ncclCommAbort) and fails the proposal instead of hanging.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import type { RankProgram } from '../../compiler/passes/tensor-parallel.ts';
import { compileRankStages } from '../compile-speculator.ts';
import type { CudaDevice } from '../cuda/device.ts';
import { openDevice } from '../cuda/device.ts';
import { RankExecutor } from '../cuda/rank-executor.ts';
import type { NcclLib } from '../nccl/nccl.ts';
import { ensureNvlsDisabled, loadNccl, NcclCommunicator, uniqueIdFromHex, uniqueIdToHex } from '../nccl/nccl.ts';

export interface CudaRankOptions {
  readonly program: RankProgram;
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** the device this rank owns (default: its rank) */
  readonly ordinal?: number;
  readonly maxBatch: number;
  /** the longest wait for one proposal (its collectives included) before the communicator is aborted */
  readonly timeoutMs: number;
  /** libnccl path (default $ARCTICC_LIBNCCL or libnccl.so.2) */
  readonly libnccl?: string;
}

export class CudaRank {
  readonly rank: number;
  readonly ranks: number;
  readonly device: CudaDevice;
  readonly exec: RankExecutor;
  readonly #lib: NcclLib;
  readonly #timeoutMs: number;
  #comm: NcclCommunicator | null = null;
  #closed = false;

  constructor(o: CudaRankOptions) {
    ensureNvlsDisabled();
    this.rank = o.program.rank;
    this.ranks = o.program.ranks;
    this.#timeoutMs = o.timeoutMs;
    this.#lib = loadNccl(o.libnccl);
    const stages = compileRankStages(o.program.graph, { maxBatch: o.maxBatch });
    this.device = openDevice({ ordinal: o.ordinal ?? o.program.rank });
    try {
      this.exec = new RankExecutor(this.device, stages, o.weights);
    } catch (e) {
      this.device.release();
      throw e;
    }
  }

  get description(): string { return `${this.device.description} (device ${this.device.ordinal})`; }
  get communicator(): NcclCommunicator | null { return this.#comm; }

  /** rank 0: a fresh ncclUniqueId as hex, for the supervisor to send to every rank */
  makeUniqueId(): string {
    if (this.rank !== 0) throw new Error(`rank ${this.rank}: only rank 0 makes the NCCL unique id`);
    return uniqueIdToHex(NcclCommunicator.uniqueId(this.#lib));
  }

  /** ncclCommInitRank with this device's primary context current; blocks until every rank has joined */
  join(hex: string): void {
    this.device.makeCurrent();
    this.#comm = NcclCommunicator.initRank(this.#lib, this.ranks, uniqueIdFromHex(hex), this.rank);
    this.exec.setCollective(this.#comm);
  }

  /**
   * One proposal: copies in, one graph replay (the collectives inside), copy out. `midway` runs after
   * the replay is enqueued, while the GPU works (fault injection in tests).
   */
  async propose(hidden: Float32Array, tokens: Int32Array, batch: number, midway?: () => Promise<void> | void): Promise<Int32Array> {
    const comm = this.#comm;
    if (!comm) throw new Error(`rank ${this.rank}: propose before the NCCL communicator was joined`);
    this.exec.start(hidden, tokens, batch);
    await midway?.();
    let done = false;
    let failure: unknown = null;
    const sync = this.device.synchronizeAsync().then(() => { done = true; }, (e) => { failure = e; done = true; });
    const deadline = Date.now() + this.#timeoutMs;
    while (!done) {
      await Promise.race([sync, new Promise((r) => setTimeout(r, 10))]);
      if (done) break;
      comm.checkAsyncError(); // a peer gone or an NCCL failure: NcclError, communicator aborted
      if (Date.now() > deadline) {
        comm.abort();
        throw new Error(`rank ${this.rank}: the proposal did not finish within ${this.#timeoutMs} ms (a collective waiting for a rank that is gone?); the NCCL communicator was aborted`);
      }
    }
    if (failure) { comm.abort(); throw failure; }
    return this.exec.draftOf(batch);
  }

  /** ncclCommAbort (never waits for peers); idempotent */
  abort(): void { this.#comm?.abort(); }

  /** aborts the communicator, frees the executor and the device; idempotent */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try { this.abort(); } finally {
      try { this.exec.close(); } finally { this.device.release(); }
    }
  }
}
