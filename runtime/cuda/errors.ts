// Errors of the CUDA runtime, and the "poisoned context" rule: after a sticky (kernel-fault) error the
// primary context is unusable, so every later call is refused with the original error named, rather than
// letting the driver return the same code (or stale data) from some unrelated call.
import { CU_RESULT_NAMES } from './constants.ts';

/** libcuda could not be loaded, or it loaded but there is no usable device. */
export class CudaUnavailableError extends Error {
  override readonly name = 'CudaUnavailableError';
  /** what was tried, in order (library paths, calls), for the message and for callers that log it */
  readonly tried: readonly string[];
  constructor(reason: string, tried: readonly string[]) {
    super(`CUDA is not available: ${reason}${tried.length ? ` (tried: ${tried.join('; ')})` : ''}`);
    this.tried = tried;
  }
}

export interface CudaErrorInit {
  readonly call: string;
  readonly code: number;
  /** from cuGetErrorName; falls back to the built-in table */
  readonly errorName?: string;
  /** from cuGetErrorString */
  readonly errorString?: string;
  /** what the runtime was doing, e.g. 'loading module "k0" of plan arctic_lstm' */
  readonly context?: string;
  /** the JIT error log (cuModuleLoadDataEx) */
  readonly jitLog?: string;
}

/**
 * cuda.h documents these as leaving "the process in an inconsistent state": every later call fails.
 * Other 7xx codes (701 launch out of resources, 704/705 peer access, 712/713 host registration, 720
 * cooperative launch too large) are argument errors that leave the context usable.
 */
const STICKY = new Set([700, 702, 710, 714, 715, 716, 717, 718, 719]);
export const isStickyError = (code: number): boolean => STICKY.has(code);

export const cuResultName = (code: number): string => CU_RESULT_NAMES[code] ?? `CUresult ${code}`;

export class CudaError extends Error {
  override readonly name = 'CudaError';
  readonly call: string;
  readonly code: number;
  readonly errorName: string;
  readonly errorString: string;
  readonly jitLog: string | undefined;
  constructor(init: CudaErrorInit) {
    const errorName = init.errorName ?? cuResultName(init.code);
    const errorString = init.errorString ?? '';
    super(formatCudaError({ ...init, errorName, errorString }));
    this.call = init.call;
    this.code = init.code;
    this.errorName = errorName;
    this.errorString = errorString;
    this.jitLog = init.jitLog;
  }
  /** true when this error leaves the CUDA context unusable (kernel fault) */
  get sticky(): boolean { return isStickyError(this.code); }
}

export function formatCudaError(e: CudaErrorInit & { errorName: string; errorString: string }): string {
  const what = e.errorString && e.errorString !== e.errorName ? `: ${e.errorString}` : '';
  let msg = `${e.call} failed with ${e.errorName} (${e.code})${what}`;
  if (e.context) msg += ` while ${e.context}`;
  if (isStickyError(e.code)) msg += '; this is a kernel fault: the CUDA context is now unusable, create a new process';
  const log = e.jitLog?.trim();
  if (log) msg += `\nJIT error log:\n${log}`;
  return msg;
}

/** Thrown for every call after a sticky error. */
export class CudaPoisonedError extends Error {
  override readonly name = 'CudaPoisonedError';
  /** the sticky error that poisoned the context */
  readonly poisonedBy: CudaError;
  constructor(poisonedBy: CudaError, call: string) {
    const first = poisonedBy.message.split('\n')[0].replace(/; this is a kernel fault.*$/, '');
    super(`CUDA context poisoned by ${first}; ${call} refused: create a new process`);
    this.poisonedBy = poisonedBy;
  }
}

/**
 * The per-context poison flag. One per primary context (i.e. per device per process), shared by every
 * speculator on it: a fault in one kernel makes the whole context unusable.
 */
export class ContextHealth {
  #poisonedBy: CudaError | null = null;
  get poisonedBy(): CudaError | null { return this.#poisonedBy; }
  /** throws CudaPoisonedError when a sticky error was seen earlier */
  assertUsable(call: string): void {
    if (this.#poisonedBy) throw new CudaPoisonedError(this.#poisonedBy, call);
  }
  /** records e when it is sticky; returns e so callers can `throw health.note(e)` */
  note(e: CudaError): CudaError {
    if (e.sticky && !this.#poisonedBy) this.#poisonedBy = e;
    return e;
  }
}
