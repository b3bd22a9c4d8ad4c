// Tensor-parallel benchmark on one GPU: TP = 1 through the real NCCL path against the plain speculator.
// 1. In this process, at the Llama-3.1-8B-shaped Arctic speculators (H=D=4096, V=128256, n=3, random
//    bf16 weights), batch 1 and 32, ms per proposal (median of CUDA-graph replays timed with events):
//      plain    the speculator plan (compileSpeculator), one graph
//      tp-nccl  the TP = 1 rank program (compileRankStages) with a one-rank ncclAllGather per step, one graph
//      tp-copy  the same graph with each all-gather replaced by a device copy (what a one-rank gather moves)
//      gathers  a graph of the n all-gathers alone
//    The all-gather's share of a proposal is gathers / tp-nccl (and (tp-nccl - tp-copy) / tp-nccl); the
//    per-step overhead of TP = 1 is (tp-nccl - plain) / n. Every row first checks that the three graphs
//    draft the same tokens on its batch.
// 2. Through the library (loadSpeculator({ tensorParallel: 1, device: 'cuda' }): one worker process,
//    IPC included) against the plain CUDA speculator on a fixture: wall ms per propose; tokens checked
//    against the plain speculator and the fixture's expected tokens.
// Writes a JSON report (--out); prints a table last; exits 1 on any error or token mismatch.
//   node bench/tp-bench.ts [--out FILE.json] [--reps N] [--models lstm,mlp] [--fixture lstm-tiny]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Graph } from '../compiler/ir/graph.ts';
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import { shardVocabParallel, shardWeights } from '../compiler/passes/tensor-parallel.ts';
import { compileRankStages, compileSpeculator } from '../runtime/compile-speculator.ts';
import type { CudaDevice } from '../runtime/cuda/device.ts';
import { openDevice } from '../runtime/cuda/device.ts';
import type { CUdeviceptr, CUstream } from '../runtime/cuda/driver.ts';
import { PlanExecutor } from '../runtime/cuda/executor.ts';
import { CudaGraph, EventTimer } from '../runtime/cuda/graph.ts';
import { RankExecutor } from '../runtime/cuda/rank-executor.ts';
import { loadNccl, NcclCommunicator, NcclDataType } from '../runtime/nccl/nccl.ts';
import { loadSpeculator } from '../runtime/speculator.ts';
import { lstmSpeculator } from '../speculators/lstm.ts';
import { mlpSpeculator } from '../speculators/mlp.ts';
import { median, randomWeights } from './random-weights.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string' }, reps: { type: 'string', default: '100' }, models: { type: 'string', default: 'lstm,mlp' }, fixture: { type: 'string', default: 'lstm-tiny' } } });
const REPS = Math.max(20, Number(args.reps));
const SHAPE = { hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true };
const BATCHES = [1, 32];
const MODELS = args.models!.split(',').filter(Boolean) as ('lstm' | 'mlp')[];

interface Row {
  model: string; B: number;
  plainMs: number | null; tpNcclMs: number | null; tpCopyMs: number | null; gathersMs: number | null;
  /** gathers / tp-nccl */
  gatherShare: number | null;
  /** (tp-nccl - tp-copy) / tp-nccl */
  gatherVsCopyShare: number | null;
  /** (tp-nccl - plain) / n */
  overheadPerStepMs: number | null;
  tokens: string; error?: string;
}
interface E2eRow { fixture: string; B: number; plainWallMs: number | null; tpWallMs: number | null; tokens: string; error?: string }

/** the one-rank all-gather as a device copy (send → recv): what ncclAllGather moves at TP = 1 */
const copyGather = (dev: CudaDevice) => ({
  allGather(send: CUdeviceptr, recv: CUdeviceptr, sendcount: number, datatype: number, stream: CUstream): void {
    if (datatype !== NcclDataType.float32 && datatype !== NcclDataType.int32) throw new Error(`copy gather: datatype ${datatype}`);
    dev.cu('cuMemcpyDtoDAsync_v2', recv, send, sendcount * 4, stream);
  },
});

function timeIt(timer: EventTimer, reps: number, enqueue: () => void): number {
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) { timer.start(); enqueue(); timer.stop(); ms.push(timer.elapsedMs()); }
  return median(ms);
}

function benchModel(dev: CudaDevice, comm: NcclCommunicator, model: 'lstm' | 'mlp'): Row[] {
  const g: Graph = (model === 'lstm' ? lstmSpeculator(SHAPE) : mlpSpeculator({ ...SHAPE, tieWeights: true })).graph;
  const maxBatch = Math.max(...BATCHES);
  const fail = (e: unknown): Row[] => BATCHES.map((B) => ({ model, B, plainMs: null, tpNcclMs: null, tpCopyMs: null, gathersMs: null, gatherShare: null, gatherVsCopyShare: null, overheadPerStepMs: null, tokens: 'not checked', error: (e as Error).message.split('\n')[0] }));
  const held: { close(): void }[] = [];
  const rows: Row[] = [];
  const timer = new EventTimer(dev);
  try {
    const t0 = performance.now();
    const weights = randomWeights(g);
    const plain = new PlanExecutor(dev, compileSpeculator(g, { maxBatch }).plan, weights);
    held.push(plain);
    const rank = shardVocabParallel(g, 1, 0);
    const stages = compileRankStages(rank.graph, { maxBatch });
    const rw = shardWeights(weights, rank.shards);
    const nccl = new RankExecutor(dev, stages, rw, { collective: comm });
    held.push(nccl);
    const copy = new RankExecutor(dev, stages, rw, { collective: copyGather(dev) });
    held.push(copy);
    weights.clear();
    rw.clear();
    console.log(`[tp-bench] ${model}: ${stages.length} stages (${stages.map((s) => s.plan.launches.length).join('+')} launches; plain ${plain.plan.launches.length}), weights ready in ${(performance.now() - t0).toFixed(0)} ms`);
    const n = nccl.nPredict;
    for (const B of BATCHES) {
      try {
        const H = SHAPE.hiddenSize;
        const hidden = Float32Array.from({ length: B * H }, (_, j) => Math.sin(j) * 2);
        const tokens = Int32Array.from({ length: B }, (_, j) => (j * 7919) % SHAPE.vocabSize);
        const want = plain.run({ hidden: hostTensor('f32', [B, H], hidden), tokens: hostTensor('i32', [B], tokens) }).draft.data as Int32Array;
        const viaNccl = nccl.propose(hidden, tokens, B), viaCopy = copy.propose(hidden, tokens, B), eager = nccl.propose(hidden, tokens, B, { graph: false });
        const bad = [['tp-nccl', viaNccl], ['tp-copy', viaCopy], ['tp-nccl eager', eager]].find(([, d]) => (d as Int32Array).some((t, i) => t !== want[i]));
        const tokensNote = `tp-nccl (graph and eager) = tp-copy = plain on all ${B} rows`;
        if (bad) throw new Error(`tokens: ${bad[0]} [${[...(bad[1] as Int32Array).slice(0, 12)]}] != plain [${[...want.slice(0, 12)]}]`);
        const Bb = nccl.bucket(B);
        const gathers = CudaGraph.capture(dev, () => {
          for (const c of nccl.collectives) comm.allGather(nccl.address(`all_gather.${c.seq}.send`), nccl.address(`all_gather.${c.seq}`), Bb * 2, NcclDataType.float32, dev.stream);
        });
        let gathersMs: number;
        try { gathers.launch(); dev.synchronize(); gathersMs = timeIt(timer, REPS, () => gathers.launch()); } finally { gathers.destroy(); }
        const plainMs = timeIt(timer, REPS, () => plain.enqueue({ B }, { graph: true }));
        const tpNcclMs = timeIt(timer, REPS, () => nccl.enqueue(B));
        const tpCopyMs = timeIt(timer, REPS, () => copy.enqueue(B));
        comm.checkAsyncError();
        const row: Row = { model, B, plainMs, tpNcclMs, tpCopyMs, gathersMs, gatherShare: gathersMs / tpNcclMs, gatherVsCopyShare: (tpNcclMs - tpCopyMs) / tpNcclMs, overheadPerStepMs: (tpNcclMs - plainMs) / n, tokens: tokensNote };
        console.log(`[tp-bench] ${model} B=${B}: plain ${plainMs.toFixed(3)} ms, tp-nccl ${tpNcclMs.toFixed(3)} ms, tp-copy ${tpCopyMs.toFixed(3)} ms, ${n} gathers alone ${gathersMs.toFixed(3)} ms; ${tokensNote}`);
        rows.push(row);
      } catch (e) {
        rows.push(fail(e)[BATCHES.indexOf(B)]);
      }
    }
  } catch (e) {
    return fail(e);
  } finally {
    timer.destroy();
    for (const h of held.reverse()) h.close();
  }
  return rows;
}

async function benchLibrary(fixture: string): Promise<E2eRow[]> {
  const dir = new URL(`../tests/fixtures/speculators/${fixture}/`, import.meta.url).pathname;
  const cases = (JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as { cases: { hidden: number[]; token: number; expected: number[] }[] }).cases;
  const rows: E2eRow[] = [];
  const plain = await loadSpeculator({ model: dir, device: 'cuda', maxBatch: 32, quiet: true });
  try {
    const tp = await loadSpeculator({ model: dir, device: 'cuda', tensorParallel: 1, maxBatch: 32, quiet: true });
    try {
      for (const B of BATCHES) {
        try {
          const pick = Array.from({ length: B }, (_, i) => cases[i % cases.length]);
          const req = { hidden: Float32Array.from(pick.flatMap((c) => c.hidden)), tokens: Int32Array.from(pick.map((c) => c.token)) };
          const expected = pick.flatMap((c) => c.expected);
          const [a, b] = [await plain.propose(req), await tp.propose(req)];
          if (b.some((t, i) => t !== a[i])) throw new Error(`tokens: tensorParallel 1 [${[...b.slice(0, 12)]}] != plain [${[...a.slice(0, 12)]}]`);
          if (a.some((t, i) => t !== expected[i])) throw new Error(`tokens: plain [${[...a.slice(0, 12)]}] != expected [${expected.slice(0, 12)}]`);
          const wall = async (s: typeof plain): Promise<number> => { const ms: number[] = []; for (let r = 0; r < 50; r++) { const t = performance.now(); await s.propose(req); ms.push(performance.now() - t); } return median(ms); };
          const row = { fixture, B, plainWallMs: await wall(plain), tpWallMs: await wall(tp), tokens: `tensorParallel 1 = plain = expected on all ${B} rows` };
          console.log(`[tp-bench] library ${fixture} B=${B}: plain ${row.plainWallMs.toFixed(3)} ms, tensorParallel 1 (worker, IPC) ${row.tpWallMs.toFixed(3)} ms per propose`);
          rows.push(row);
        } catch (e) {
          rows.push({ fixture, B, plainWallMs: null, tpWallMs: null, tokens: 'not checked', error: (e as Error).message.split('\n')[0] });
        }
      }
    } finally {
      tp.close();
      await (tp as unknown as { workersExited: Promise<void> }).workersExited;
    }
  } catch (e) {
    if (rows.length < BATCHES.length) for (const B of BATCHES.slice(rows.length)) rows.push({ fixture, B, plainWallMs: null, tpWallMs: null, tokens: 'not checked', error: (e as Error).message.split('\n')[0] });
  } finally {
    plain.close();
  }
  return rows;
}

async function main(): Promise<void> {
  process.env.NCCL_NVLS_ENABLE = '0';
  const dev = openDevice();
  const report: Record<string, unknown> = { device: dev.description, shape: SHAPE, reps: REPS, when: new Date().toISOString() };
  let rows: Row[] = [];
  let lib: E2eRow[] = [];
  let setupError: string | null = null;
  try {
    try {
      const nccl = loadNccl();
      const v = new Int32Array(1);
      nccl.ncclGetVersion(v);
      report.ncclVersion = v[0];
      dev.makeCurrent();
      const comm = NcclCommunicator.initRank(nccl, 1, NcclCommunicator.uniqueId(nccl), 0);
      try {
        for (const m of MODELS) rows.push(...benchModel(dev, comm, m));
      } finally { comm.destroy(); }
    } catch (e) { setupError = (e as Error).message.split('\n')[0]; }
    lib = await benchLibrary(args.fixture!);
  } finally {
    dev.release();
  }
  Object.assign(report, { rows, library: lib, ...(setupError ? { error: setupError } : {}) });
  if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
  console.log(`\n== TP = 1 through NCCL vs plain: ${dev.description}, NCCL ${report.ncclVersion ?? '?'} (ms per proposal, median of ${REPS} graph replays) ==`);
  if (setupError) console.log(`error: ${setupError}`);
  console.log('model  B   plain ms  tp-nccl ms  tp-copy ms  gathers ms  gather share  (nccl-copy)/nccl  overhead/step ms');
  for (const r of rows) console.log(`${r.model.padEnd(5)} ${String(r.B).padStart(2)}  ${f(r.plainMs).padStart(8)}  ${f(r.tpNcclMs).padStart(10)}  ${f(r.tpCopyMs).padStart(10)}  ${f(r.gathersMs).padStart(10)}  ${pct(r.gatherShare).padStart(12)}  ${pct(r.gatherVsCopyShare).padStart(16)}  ${f(r.overheadPerStepMs).padStart(16)}${r.error ? `  error: ${r.error.slice(0, 160)}` : ''}`);
  console.log(`library (${args.fixture}): B  plain wall ms  tensorParallel 1 wall ms`);
  for (const r of lib) console.log(`  ${String(r.B).padStart(2)}  ${f(r.plainWallMs).padStart(13)}  ${f(r.tpWallMs).padStart(24)}${r.error ? `  error: ${r.error.slice(0, 160)}` : ''}`);
  const bad = [...rows, ...lib].filter((r) => r.error).length + (setupError ? 1 : 0);
  if (bad || rows.length !== MODELS.length * BATCHES.length || lib.length !== BATCHES.length) {
    console.log(`tp-bench: ${bad} error(s): exit 1`);
    process.exitCode = 1;
  }
}

await main();
