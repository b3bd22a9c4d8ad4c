// The tensor-parallel process model: one Node worker process per rank (worker.ts), spawned and
// supervised here, seen by the caller as one Backend. Per proposal every rank runs its program; each
// all_gather is answered when all ranks have sent their part (the CPU emulation of NCCL's all-gather
// over IPC; with device 'cuda' each rank owns one GPU and runs ncclAllGather inside its CUDA graph, and
// the supervisor only relays rank 0's NCCL unique id and collects the drafts). A rank that dies, reports
// an error, or leaves a collective (or, on CUDA, its proposal) unfinished past the timeout fails the
// proposal with one TensorParallelError naming the rank, and every rank is ended (no orphans, no hang):
// on CUDA the live ranks are first told to abort their communicator (ncclCommAbort) and exit, and are
// killed if they have not within a grace period.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { gatherRanks } from '../../compiler/ir/interp.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Backend, ProposeBatch } from '../backend.ts';
import type { FromWorker, RankFault, ReadyMessage, ToWorker } from './protocol.ts';

/** A tensor-parallel proposal failed: a rank died, reported an error or missed a collective; every rank was ended. */
export class TensorParallelError extends Error {
  override readonly name = 'TensorParallelError';
  /** the rank that failed, or null when the failure is not one rank's (a timeout with several missing) */
  readonly rank: number | null;
  constructor(message: string, rank: number | null) {
    super(message);
    this.rank = rank;
  }
}

export interface TensorParallelOptions {
  model: string;
  ranks: number;
  /** the longest wait for any collective; default 30 s */
  collectiveTimeoutMs?: number;
  /** the longest wait for every rank to load its shard; default 120 s (or the collective timeout if longer) */
  startTimeoutMs?: number;
  /** test-only: a fault a rank injects into itself */
  fault?: RankFault;
  /** 'cpu' (default): the interpreter with an all-gather over IPC; 'cuda': rank r on GPU r, NCCL all-gathers inside its CUDA graph */
  device?: 'cpu' | 'cuda';
  /** with device 'cuda': the largest batch one proposal may carry (sizes the kernels; default 64) */
  maxBatch?: number;
  /** @internal tests: the worker module to fork instead of worker.ts (a scripted stand-in that speaks the protocol) */
  workerModule?: string;
}

/** how long a CUDA rank told to abort gets before it is killed */
const ABORT_GRACE_MS = 2000;

export interface TensorParallelBackend extends Backend {
  readonly ranks: number;
  readonly ready: ReadyMessage;
  /** the worker process ids, by rank */
  readonly pids: readonly number[];
  /** resolves when every worker process has exited (after close or a failure) */
  readonly exited: Promise<void>;
}

const workerPath = (): string => new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).pathname;

interface Pending {
  id: number;
  resolve: (d: Int32Array) => void;
  reject: (e: Error) => void;
  parts: Map<number, (FromWorker & { type: 'gather' })[]>;
  done: Map<number, Int32Array>;
  timer: NodeJS.Timeout | null;
}

export async function createTensorParallelBackend(o: TensorParallelOptions): Promise<TensorParallelBackend> {
  const n = o.ranks;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`tensorParallel must be a positive integer, got ${o.ranks}`);
  const timeoutMs = o.collectiveTimeoutMs ?? 30_000;
  // a rank's own wait is the backstop (the supervisor gone silent): longer, so the supervisor names the culprit first
  const workerTimeoutMs = 2 * timeoutMs + 1000;
  const startMs = o.startTimeoutMs ?? Math.max(120_000, timeoutMs);
  const device = o.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new TypeError(`tensor parallel: device must be "cpu" or "cuda", got ${JSON.stringify(o.device)}`);
  const maxBatch = o.maxBatch ?? 64;
  const children: ChildProcess[] = [];
  const alive = new Set<number>();
  let broken: TensorParallelError | null = null;
  let closing = false;
  let pending: Pending | null = null;
  let nextId = 1;
  let onReady: ((m: ReadyMessage) => void) | null = null;
  let onStartFail: ((e: Error) => void) | null = null;
  let allExited!: () => void;
  const exited = new Promise<void>((res) => { allExited = res; });

  let killTimer: NodeJS.Timeout | null = null;
  const endAll = (): void => {
    if (device === 'cuda') {
      // abort every communicator first (a rank blocked on a dead peer is released), then kill what is left
      for (const [r, c] of children.entries()) if (alive.has(r) && c.connected) { try { c.send({ type: 'abort' } satisfies ToWorker); } catch { /* it is gone */ } }
      killTimer = setTimeout(() => { for (const [r, c] of children.entries()) if (alive.has(r)) c.kill('SIGKILL'); }, ABORT_GRACE_MS);
      return;
    }
    for (const [r, c] of children.entries()) if (alive.has(r)) c.kill('SIGKILL');
  };
  const failWith = (e: TensorParallelError): void => {
    if (broken || closing) return;
    broken = e;
    endAll();
    if (pending) { const p = pending; pending = null; if (p.timer) clearTimeout(p.timer); p.reject(e); }
    onStartFail?.(e);
  };
  /** (re)starts the proposal's watchdog: `missing()` names the ranks that have not arrived when it fires */
  const arm = (p: Pending, missing: () => number[], what: string): void => {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      const m = missing();
      failWith(new TensorParallelError(`tensor parallel: ${m.length === 1 ? `rank ${m[0]}` : `ranks ${m.join(', ')}`} did not ${what} within the collective timeout of ${timeoutMs} ms; every rank was ended`, m.length === 1 ? m[0] : null));
    }, timeoutMs);
  };
  const everyRank = (): number[] => [...Array(n).keys()];

  const onMessage = (rank: number, m: FromWorker): void => {
    if (broken) return;
    if (m.type === 'ready') { onReady?.(m); return; }
    if (m.type === 'nccl-unique-id') {
      // rank 0's id, to every rank (rank 0 too): each then joins with ncclCommInitRank
      for (const c of children) c.send({ type: 'nccl-id', hex: m.hex } satisfies ToWorker);
      return;
    }
    if (m.type === 'error') {
      failWith(new TensorParallelError(`tensor parallel: rank ${rank} failed${m.id !== null ? ` in proposal ${m.id}` : ''}: ${m.message}; every rank was ended`, rank));
      return;
    }
    const p = pending;
    if (!p || m.id !== p.id) return;
    if (m.type === 'gather') {
      const list = p.parts.get(m.seq) ?? [];
      list.push(m);
      p.parts.set(m.seq, list);
      if (list.length < n) {
        arm(p, () => everyRank().filter((r) => !list.some((x) => x.rank === r)), `reach collective ${m.seq} of proposal ${p.id}`);
        return;
      }
      list.sort((a, b) => a.rank - b.rank);
      const g = gatherRanks(list.map((x) => hostTensor('f32', x.shape, x.data)));
      p.parts.delete(m.seq);
      for (const c of children) c.send({ type: 'gathered', id: p.id, seq: m.seq, data: g.data as Float32Array, shape: g.shape } satisfies ToWorker);
      arm(p, () => everyRank().filter((r) => !p.done.has(r)), `finish proposal ${p.id} after collective ${m.seq}`);
    } else if (m.type === 'done') {
      p.done.set(rank, m.draft);
      if (p.done.size < n) return;
      pending = null;
      if (p.timer) clearTimeout(p.timer);
      const d0 = p.done.get(0)!;
      for (const [r, d] of p.done) {
        if (d.length !== d0.length || d.some((t, i) => t !== d0[i])) { failWith(new TensorParallelError(`tensor parallel: rank ${r} drafted other tokens than rank 0 in proposal ${p.id}`, r)); p.reject(broken!); return; }
      }
      p.resolve(d0);
    }
  };

  for (let r = 0; r < n; r++) {
    const c = fork(o.workerModule ?? workerPath(), [], {
      serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NCCL_NVLS_ENABLE: '0', ARCTICC_TP_RANK: String(r), ARCTICC_TP_RANKS: String(n) },
    });
    children.push(c);
    alive.add(r);
    c.on('message', (m: FromWorker) => onMessage(r, m));
    c.on('error', (e) => failWith(new TensorParallelError(`tensor parallel: rank ${r} (pid ${c.pid}): ${e.message}; every rank was ended`, r)));
    c.on('exit', (code, signal) => {
      alive.delete(r);
      if (alive.size === 0) { if (killTimer) clearTimeout(killTimer); allExited(); }
      if (!closing) failWith(new TensorParallelError(`tensor parallel: rank ${r} (pid ${c.pid}) exited ${signal ? `with signal ${signal}` : `with code ${code}`}${pending ? ` during proposal ${pending.id}` : ''}; every rank was ended`, r));
    });
  }

  // start-up: every rank loads its shard and reports its sizes
  const readies: ReadyMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => failWith(new TensorParallelError(`tensor parallel: ranks ${[...Array(n).keys()].filter((r) => !readies.some((m) => m.rank === r)).join(', ')} did not start within ${startMs} ms; every rank was ended`, null)), startMs);
      onStartFail = (e) => { clearTimeout(timer); reject(e); };
      onReady = (m) => { readies.push(m); if (readies.length === n) { clearTimeout(timer); resolve(); } };
      for (const [r, c] of children.entries()) c.send({ type: 'init', rank: r, ranks: n, model: o.model, collectiveTimeoutMs: workerTimeoutMs, fault: o.fault, device, ordinal: r, maxBatch } satisfies ToWorker);
    });
  } catch (e) {
    await exited;
    throw e;
  }
  onStartFail = null;
  const ready = readies.find((m) => m.rank === 0)!;

  let queue: Promise<void> = Promise.resolve();
  const runOne = (b: ProposeBatch): Promise<Int32Array> => {
    if (broken) return Promise.reject(broken);
    if (closing) return Promise.reject(new Error('the tensor-parallel backend is closed'));
    if (typeof b.hidden === 'bigint') return Promise.reject(new TypeError(device === 'cuda' ? 'propose: hidden is a device pointer; a tensor-parallel speculator takes host arrays (its ranks run in their own processes and CUDA contexts)' : 'propose: hidden is a device pointer, which needs the CUDA backend (this speculator runs on the CPU)'));
    if (device === 'cuda' && b.batch > maxBatch) return Promise.reject(new RangeError(`propose: batch ${b.batch} exceeds maxBatch ${maxBatch} of this tensor-parallel speculator`));
    const hidden = b.hidden;
    return new Promise<Int32Array>((resolve, reject) => {
      const p: Pending = { id: nextId++, resolve, reject, parts: new Map(), done: new Map(), timer: null };
      pending = p;
      if (device === 'cuda') arm(p, () => everyRank().filter((r) => !p.done.has(r)), `finish proposal ${p.id} (its all-gathers run inside the rank's CUDA graph)`);
      else arm(p, everyRank, `reach the first collective of proposal ${p.id}`);
      for (const c of children) c.send({ type: 'propose', id: p.id, hidden, tokens: b.tokens, batch: b.batch } satisfies ToWorker);
    });
  };

  return {
    device,
    description: device === 'cuda'
      ? `${ready.description ?? 'CUDA'}, tensor parallel over ${n} worker processes, one GPU each (vocab-sharded LM head, one NCCL all-gather per step inside one CUDA graph per batch bucket)`
      : `CPU (reference interpreter), tensor parallel over ${n} worker processes (vocab-sharded LM head, one all-gather per step)`,
    ranks: n,
    ready,
    pids: children.map((c) => c.pid!),
    exited,
    propose(b: ProposeBatch): Promise<Int32Array> {
      // proposals run one at a time on the ranks, in call order
      const next = queue.then(() => runOne(b));
      queue = next.then(() => {}, () => {});
      return next;
    },
    close() {
      if (closing) return;
      closing = true;
      if (pending) { if (pending.timer) clearTimeout(pending.timer); pending.reject(new Error('the tensor-parallel backend was closed during a proposal')); pending = null; }
      for (const [r, c] of children.entries()) if (alive.has(r)) { if (c.connected) c.disconnect(); c.kill('SIGTERM'); }
    },
  };
}
