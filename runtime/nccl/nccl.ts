// The libnccl binding: one table of C prototypes with NCCL's exported names (nccl.h: ncclGetUniqueId,
// ncclCommInitRank with the 128-byte id passed BY VALUE, ncclAllGather on a CUDA stream, group calls,
// abort/destroy, error strings), loaded lazily through koffi like runtime/cuda/driver.ts loads libcuda.
// A collective issued on a stream that is being captured becomes a node of the CUDA graph, so the
// all-gather of the tensor-parallel drafter replays with the rest of the step.
import koffi from 'koffi';
import type { CUstream, CUdeviceptr, HandleOut } from '../cuda/driver.ts';
import { registerDriverTypes } from '../cuda/driver.ts';

/** nccl.h: NCCL_UNIQUE_ID_BYTES */
export const NCCL_UNIQUE_ID_BYTES = 128;

/** ncclResult_t (nccl.h) */
export const NCCL_RESULT_NAMES: Readonly<Record<number, string>> = {
  0: 'ncclSuccess', 1: 'ncclUnhandledCudaError', 2: 'ncclSystemError', 3: 'ncclInternalError',
  4: 'ncclInvalidArgument', 5: 'ncclInvalidUsage', 6: 'ncclRemoteError', 7: 'ncclInProgress', 8: 'ncclTimeout',
};
/** ncclDataType_t (nccl.h) */
export const NcclDataType = {
  int8: 0, uint8: 1, int32: 2, uint32: 3, int64: 4, uint64: 5, float16: 6, float32: 7, float64: 8, bfloat16: 9,
} as const;

export type NcclComm = bigint & { readonly __ncclComm: true };
/** the 128 bytes of an ncclUniqueId, as koffi passes the struct */
export interface NcclUniqueId { internal: Uint8Array }

export const NCCL_PROTOTYPES = [
  'int ncclGetVersion(_Out_ int *version)',
  'int ncclGetUniqueId(_Out_ ncclUniqueId *uniqueId)',
  'int ncclCommInitRank(_Out_ ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)',
  'int ncclAllGather(CUdeviceptr sendbuff, CUdeviceptr recvbuff, size_t sendcount, int datatype, ncclComm_t comm, CUstream stream)',
  'int ncclGroupStart(void)',
  'int ncclGroupEnd(void)',
  'int ncclCommGetAsyncError(ncclComm_t comm, _Out_ int *asyncError)',
  'int ncclCommAbort(ncclComm_t comm)',
  'int ncclCommDestroy(ncclComm_t comm)',
  'const char *ncclGetErrorString(int result)',
] as const;

export const ncclSymbolOf = (proto: string): string => /\b(nccl\w+)\s*\(/.exec(proto)![1];
export const NCCL_SYMBOLS: readonly string[] = NCCL_PROTOTYPES.map(ncclSymbolOf);

/** The typed view of the table; a fake with this shape drives {@link NcclCommunicator} in tests. */
export interface NcclLib {
  ncclGetVersion(out: Int32Array): number;
  ncclGetUniqueId(out: NcclUniqueId): number;
  ncclCommInitRank(out: HandleOut, nranks: number, id: NcclUniqueId, rank: number): number;
  ncclAllGather(send: CUdeviceptr, recv: CUdeviceptr, sendcount: number | bigint, datatype: number, comm: NcclComm, stream: CUstream): number;
  ncclGroupStart(): number;
  ncclGroupEnd(): number;
  ncclCommGetAsyncError(comm: NcclComm, out: Int32Array): number;
  ncclCommAbort(comm: NcclComm): number;
  ncclCommDestroy(comm: NcclComm): number;
  ncclGetErrorString(code: number): string | null;
}

/** libnccl could not be loaded or lacks a symbol. */
export class NcclUnavailableError extends Error {
  override readonly name = 'NcclUnavailableError';
}

/** An NCCL call returned non-zero: the call, the code and its name, and ncclGetErrorString's text. */
export class NcclError extends Error {
  override readonly name = 'NcclError';
  readonly call: string;
  readonly code: number;
  readonly errorName: string;
  readonly errorString: string;
  constructor(call: string, code: number, errorString: string, context?: string) {
    const errorName = NCCL_RESULT_NAMES[code] ?? `ncclResult_t ${code}`;
    super(`${call} failed with ${errorName} (${code})${errorString ? `: ${errorString}` : ''}${context ? ` while ${context}` : ''}`);
    this.call = call;
    this.code = code;
    this.errorName = errorName;
    this.errorString = errorString;
  }
}

let typesRegistered = false;
export function registerNcclTypes(): void {
  if (typesRegistered) return;
  registerDriverTypes(); // CUdeviceptr, CUstream
  koffi.struct('ncclUniqueId', { internal: koffi.array('uint8_t', NCCL_UNIQUE_ID_BYTES, 'Typed') });
  koffi.pointer('ncclComm_t', koffi.opaque('ncclComm'));
  typesRegistered = true;
}

export const DEFAULT_LIBNCCL = 'libnccl.so.2';
export const libncclPath = (libraryPath?: string): string => libraryPath ?? process.env.ARCTICC_LIBNCCL ?? DEFAULT_LIBNCCL;

const loaded = new Map<string, NcclLib>();

/** Loads (once per path) and binds the table; NcclUnavailableError names the path and the missing symbol. */
export function loadNccl(libraryPath?: string): NcclLib {
  const path = libncclPath(libraryPath);
  const hit = loaded.get(path);
  if (hit) return hit;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (e) {
    throw new NcclUnavailableError(`NCCL is not available: could not load "${path}": ${(e as Error).message} (set $ARCTICC_LIBNCCL to the libnccl.so.2 of the nvidia-nccl wheel or a system install)`);
  }
  registerNcclTypes();
  const fns: Record<string, unknown> = {};
  for (const proto of NCCL_PROTOTYPES) {
    const name = ncclSymbolOf(proto);
    try {
      fns[name] = lib.func(proto);
    } catch (e) {
      throw new NcclUnavailableError(`NCCL is not available: "${path}" has no usable symbol ${name} (${(e as Error).message})`);
    }
  }
  const nccl = fns as unknown as NcclLib;
  loaded.set(path, nccl);
  return nccl;
}

/** Every process that may touch NCCL runs with NVLink multicast (NVLS) off. */
export function ensureNvlsDisabled(env: NodeJS.ProcessEnv = process.env): void {
  env.NCCL_NVLS_ENABLE = '0';
}

export const uniqueIdToHex = (id: NcclUniqueId): string => Buffer.from(id.internal).toString('hex');
export function uniqueIdFromHex(hex: string): NcclUniqueId {
  if (!/^[0-9a-f]*$/i.test(hex) || hex.length !== 2 * NCCL_UNIQUE_ID_BYTES) throw new RangeError(`an ncclUniqueId is ${NCCL_UNIQUE_ID_BYTES} bytes (${2 * NCCL_UNIQUE_ID_BYTES} hex digits), got ${hex.length} characters`);
  return { internal: new Uint8Array(Buffer.from(hex, 'hex')) };
}

/**
 * One rank's communicator. Every failing call throws NcclError; a failed collective aborts the
 * communicator (ncclCommAbort, never ncclCommDestroy, which would wait for peers that may be gone).
 */
export class NcclCommunicator {
  readonly nranks: number;
  readonly rank: number;
  readonly #lib: NcclLib;
  #comm: NcclComm | null;
  #aborted = false;

  private constructor(lib: NcclLib, comm: NcclComm, nranks: number, rank: number) {
    this.#lib = lib;
    this.#comm = comm;
    this.nranks = nranks;
    this.rank = rank;
  }

  /** rank 0 makes the id (it must stay alive until every rank has joined) and sends its hex to the others */
  static uniqueId(lib: NcclLib): NcclUniqueId {
    const id: NcclUniqueId = { internal: new Uint8Array(NCCL_UNIQUE_ID_BYTES) };
    check(lib, 'ncclGetUniqueId', lib.ncclGetUniqueId(id));
    return id;
  }

  /** ncclCommInitRank: blocks until all nranks have called it; the device's context must be current. */
  static initRank(lib: NcclLib, nranks: number, id: NcclUniqueId, rank: number): NcclCommunicator {
    if (!Number.isInteger(nranks) || nranks < 1) throw new RangeError(`nranks must be a positive integer, got ${nranks}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= nranks) throw new RangeError(`rank must lie in [0, ${nranks}), got ${rank}`);
    if (id.internal.length !== NCCL_UNIQUE_ID_BYTES) throw new RangeError(`an ncclUniqueId is ${NCCL_UNIQUE_ID_BYTES} bytes, got ${id.internal.length}`);
    const out: HandleOut = [null];
    check(lib, 'ncclCommInitRank', lib.ncclCommInitRank(out, nranks, id, rank), `joining rank ${rank} of ${nranks}`);
    if (out[0] === null) throw new NcclError('ncclCommInitRank', 3, 'returned a null communicator');
    return new NcclCommunicator(lib, out[0] as NcclComm, nranks, rank);
  }

  get aborted(): boolean { return this.#aborted; }

  #live(call: string): NcclComm {
    if (this.#comm === null) throw new Error(`${call}: the NCCL communicator of rank ${this.rank} is ${this.#aborted ? 'aborted' : 'destroyed'}`);
    return this.#comm;
  }

  /**
   * ncclAllGather of `sendcount` elements from every rank into recv (nranks × sendcount, rank-major),
   * enqueued on `stream` (inside a stream capture it becomes a graph node). On failure: abort, throw.
   */
  allGather(send: CUdeviceptr, recv: CUdeviceptr, sendcount: number, datatype: number, stream: CUstream): void {
    const comm = this.#live('ncclAllGather');
    const rc = this.#lib.ncclAllGather(send, recv, sendcount, datatype, comm, stream);
    if (rc !== 0) {
      const e = new NcclError('ncclAllGather', rc, errorString(this.#lib, rc), `gathering ${sendcount} elements on rank ${this.rank} of ${this.nranks}`);
      this.abort();
      throw e;
    }
  }

  /** ncclGroupStart/End around `fn` (several collectives as one launch); ncclGroupEnd runs even when fn throws */
  group<T>(fn: () => T): T {
    check(this.#lib, 'ncclGroupStart', this.#lib.ncclGroupStart());
    let out: T;
    try { out = fn(); } finally {
      const rc = this.#lib.ncclGroupEnd();
      if (rc !== 0) { const e = new NcclError('ncclGroupEnd', rc, errorString(this.#lib, rc)); this.abort(); throw e; }
    }
    return out;
  }

  /** The asynchronous error of the communicator (a peer died, a timeout): throws and aborts when set. */
  checkAsyncError(): void {
    const comm = this.#live('ncclCommGetAsyncError');
    const out = new Int32Array(1);
    check(this.#lib, 'ncclCommGetAsyncError', this.#lib.ncclCommGetAsyncError(comm, out));
    if (out[0] !== 0 && out[0] !== 7) {
      const e = new NcclError('ncclCommGetAsyncError', out[0], errorString(this.#lib, out[0]), `rank ${this.rank} of ${this.nranks}`);
      this.abort();
      throw e;
    }
  }

  /** ncclCommAbort: frees the communicator without waiting for peers; idempotent */
  abort(): void {
    if (this.#comm === null) return;
    const c = this.#comm;
    this.#comm = null;
    this.#aborted = true;
    this.#lib.ncclCommAbort(c);
  }

  /** ncclCommDestroy after a clean run; idempotent (no-op after abort) */
  destroy(): void {
    if (this.#comm === null) return;
    const c = this.#comm;
    this.#comm = null;
    check(this.#lib, 'ncclCommDestroy', this.#lib.ncclCommDestroy(c));
  }
}

function errorString(lib: NcclLib, code: number): string {
  try { return lib.ncclGetErrorString(code) ?? ''; } catch { return ''; }
}

function check(lib: NcclLib, call: string, rc: number, context?: string): void {
  if (rc !== 0) throw new NcclError(call, rc, errorString(lib, rc), context);
}
