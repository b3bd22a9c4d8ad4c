// One rank of a tensor-parallel speculator, in its own Node process (forked by supervisor.ts). It loads
// the checkpoint, builds its rank program (vocab-sharded head, compiler/passes/tensor-parallel.ts) and
// runs proposals through the interpreter, answering each all_gather over IPC; or, with device 'cuda', on
// its own GPU (cuda-rank.ts: the stages in one CUDA graph, ncclAllGather between them; rank 0's NCCL
// unique id reaches the others through the supervisor). It never outlives its supervisor (IPC
// disconnect → abort the communicator, exit) and never waits forever (a timeout on every collective).
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { interpretSteps } from '../../compiler/ir/interp.ts';
import { shardVocabParallel, shardWeights } from '../../compiler/passes/tensor-parallel.ts';
import { loadCheckpoint } from '../checkpoint/index.ts';
import { ensureNvlsDisabled } from '../nccl/nccl.ts';
import { programFor } from '../speculator-program.ts';
import type { CudaRank } from './cuda-rank.ts';
import type { FromWorker, GatheredMessage, InitMessage, ToWorker } from './protocol.ts';

ensureNvlsDisabled();
if (!process.send) {
  console.error('runtime/tp/worker.ts is a tensor-parallel rank: it runs only as a child of the speculator (child_process.fork)');
  process.exit(2);
}
const send = (m: FromWorker): void => { process.send!(m); };
let cuda: CudaRank | null = null;
/** ncclCommAbort before any exit (never ncclCommDestroy: it would wait for peers that may be gone) */
const abortComm = (): void => { try { cuda?.abort(); } catch { /* exiting anyway */ } };
process.on('disconnect', () => { abortComm(); process.exit(1); });

let init: InitMessage | null = null;
let run: ((m: ToWorker & { type: 'propose' }) => Promise<void>) | null = null;
let waiting: { id: number; seq: number; resolve: (m: GatheredMessage) => void; timer: NodeJS.Timeout } | null = null;
let proposals = 0;

let failed = false;
/** reports the error, then exits once the message is out (the supervisor ends the other ranks) */
function fail(id: number | null, e: unknown): void {
  if (failed) return;
  failed = true;
  abortComm();
  const message = e instanceof Error ? `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}` : String(e);
  process.send!({ type: 'error', rank: init?.rank ?? -1, id, message } satisfies FromWorker, undefined, undefined, () => process.exit(1));
  setTimeout(() => process.exit(1), 1000).unref();
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'init') {
    init = m;
    try {
      const ckpt = loadCheckpoint(m.model, { quiet: true });
      const prog = shardVocabParallel(programFor(ckpt.config, ckpt.weights).graph, m.ranks, m.rank);
      const weights = shardWeights(ckpt.weights, prog.shards);
      ckpt.weights.clear();
      const H = ckpt.config.hiddenSize;
      const ready: FromWorker = { type: 'ready', rank: m.rank, hiddenSize: H, vocabSize: ckpt.config.vocabSize, nPredict: ckpt.config.nPredict, collectives: prog.collectives };
      if (m.device === 'cuda') {
        startCuda(m, prog, weights, ready).catch((e) => fail(null, e));
        return;
      }
      run = async (p) => {
        const first = proposals++ === 0;
        const steps = interpretSteps(prog.graph, { hidden: hostTensor('f32', [p.batch, H], p.hidden), tokens: hostTensor('i32', [p.batch], p.tokens) }, weights);
        let r = steps.next();
        while (!r.done) {
          const seq = r.value.node.argOf<number>('seq');
          const fault = m.fault?.rank === m.rank && first && m.fault.atCollective === seq ? m.fault.action : null;
          if (fault === 'exit') process.exit(3);
          if (fault === 'throw') throw new Error(`injected fault in rank ${m.rank} at collective ${seq}`);
          if (fault === 'hang') { await new Promise(() => { setInterval(() => {}, 1 << 30); }); }
          const v = r.value.value;
          const got = await new Promise<GatheredMessage>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`rank ${m.rank}: collective ${seq} of proposal ${p.id} got no answer in ${m.collectiveTimeoutMs} ms`)), m.collectiveTimeoutMs);
            waiting = { id: p.id, seq, resolve, timer };
            send({ type: 'gather', rank: m.rank, id: p.id, seq, data: v.data as Float32Array, shape: v.shape });
          });
          r = steps.next(hostTensor('f32', got.shape, got.data) as HostTensor);
        }
        send({ type: 'done', rank: m.rank, id: p.id, draft: r.value.draft.data as Int32Array });
      };
      send(ready);
    } catch (e) { fail(null, e); }
  } else if (m.type === 'nccl-id') {
    // rank 0's id can arrive while this rank is still compiling and loading: join once loaded
    ncclId = m.hex;
    if (cuda) joinNow();
  } else if (m.type === 'abort') {
    abortComm();
    process.exit(1);
  } else if (m.type === 'propose') {
    if (!run) { fail(m.id, new Error('propose before init')); return; }
    run(m).catch((e) => fail(m.id, e));
  } else if (m.type === 'gathered') {
    const w = waiting;
    if (!w || w.id !== m.id || w.seq !== m.seq) { fail(m.id, new Error(`rank ${init?.rank}: an answer to collective ${m.seq} of proposal ${m.id} that it is not waiting for`)); return; }
    clearTimeout(w.timer);
    waiting = null;
    w.resolve(m);
  }
});

let pendingReady: FromWorker | null = null;
let ncclId: string | null = null;
let joined = false;

/** ncclCommInitRank (blocks until every rank has joined; the supervisor's start timeout guards it), then 'ready' */
function joinNow(): void {
  if (joined || !cuda || ncclId === null) return;
  joined = true;
  try {
    cuda.join(ncclId);
    send(pendingReady!);
  } catch (e) { fail(null, e); }
}

/** device 'cuda': compile the stages, load them on this rank's GPU; rank 0 sends the NCCL unique id; 'ready' once joined */
async function startCuda(m: InitMessage, prog: ReturnType<typeof shardVocabParallel>, weights: Map<string, HostTensor>, ready: FromWorker & { type: 'ready' }): Promise<void> {
  const { CudaRank } = await import('./cuda-rank.ts');
  cuda = new CudaRank({ program: prog, weights, ordinal: m.ordinal, maxBatch: m.maxBatch ?? 64, timeoutMs: m.collectiveTimeoutMs });
  weights.clear();
  const c = cuda;
  pendingReady = { ...ready, description: c.description };
  run = async (p) => {
    const first = proposals++ === 0;
    const fault = m.fault?.rank === m.rank && first ? m.fault.action : null;
    const draft = await c.propose(p.hidden, p.tokens, p.batch, async () => {
      if (fault === 'exit') process.exit(3);
      if (fault === 'throw') throw new Error(`injected fault in rank ${m.rank} during proposal ${p.id}`);
      if (fault === 'hang') await new Promise(() => { setInterval(() => {}, 1 << 30); });
    });
    send({ type: 'done', rank: m.rank, id: p.id, draft });
  };
  if (m.rank === 0) send({ type: 'nccl-unique-id', rank: 0, hex: c.makeUniqueId() });
  joinNow();
}
