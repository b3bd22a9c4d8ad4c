// GPU benchmark: copy bandwidth, then ms per proposal (median of ≥ 50 CUDA-graph replays, timed with
// events) for the Llama-3.1-8B-shaped Arctic LSTM and MLP speculators (H=D=4096, V=128256, n=3) at batch
// 1 and 32, each beside its bandwidth floor (weight bytes read per proposal / measured copy bandwidth) and
// the PyTorch peer (bench/peer_torch.py). Also: the same launches without a graph (eager ms) and the whole
// backend proposal from the host (wall ms: input copies, replay, output copy, wait). Each row also checks
// what it timed: the drafts of its batch from the graph replay equal the eager launches' (every row) and
// the CPU reference interpreter's on the same weights and the same lowered graph (rows 0, B/2 and B-1:
// rows are independent, so those rows alone are interpreted); any mismatch makes the row an error row.
// (ARCTICC_CERTIFIED_ARGMAX=1 makes compileSpeculator use the certified argmax head, docs/certified-argmax.md. Random
// heads have no clear winner, so many rows fail their certificate and that run mostly times the fallback; until
// 2026-12-01 these weights also repeated every 2048 rows, so every row failed on exact ties.)
// The plan is compiled by compileSpeculator (runtime/compile-speculator.ts), as `arcticc compile` and
// loadSpeculator do. Writes a JSON report; prints a short table last; exits 1 if any row has an error.
// --activations f32,bf16 (default) times each model both ways: f32 activations (exact against fp32 references:
// three bf16 tensor-core terms per activation from B = 5) and bf16 (the bf16-activations pass, rows "*-bf16a": a
// bf16 speculator's numerics, ArcticInference's and the PyTorch peer's; one term), each beside the same peer row.
//   node bench/gpu-bench.ts [--out FILE.json] [--peer PEER.json] [--tests VITEST.json] [--reps N] [--activations f32,bf16]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ExecutionPlan } from '../compiler/codegen/plan.ts';
import type { Graph } from '../compiler/ir/graph.ts';
import { graphNodes } from '../compiler/ir/graph.ts';
import { itemSize } from '../compiler/ir/dtype.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { hostTensor, numel } from '../compiler/ir/tensor-data.ts';
import { openDevice } from '../runtime/cuda/device.ts';
import type { CudaDevice } from '../runtime/cuda/device.ts';
import { PlanExecutor } from '../runtime/cuda/executor.ts';
import { EventTimer } from '../runtime/cuda/graph.ts';
import type { CompileSpeculatorOptions } from '../runtime/compile-speculator.ts';
import { quantizeGraph } from '../runtime/quantize-program.ts';
import type { ActivationMode } from '../models/llama.ts';
import { ACTIVATION_MODES } from '../models/llama.ts';
import { lstmSpeculator } from '../speculators/lstm.ts';
import { mlpSpeculator } from '../speculators/mlp.ts';
import { copyBandwidth } from './copy-bandwidth.ts';
import { InterpreterPool } from './interp-pool.ts';
import { median, randomWeights } from './random-weights.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string' }, peer: { type: 'string' }, tests: { type: 'string' }, reps: { type: 'string', default: '100' }, batches: { type: 'string', default: '1,32' }, activations: { type: 'string', default: 'f32,bf16' } } });
const REPS = Math.max(50, Number(args.reps));
const SHAPE = { hiddenSize: 4096, width: 4096, vocabSize: 128256, nPredict: 3, scaleInput: true };
/** --batches 1,2,4,8,16,32,64 for ArcticInference's buckets (each row also checked against the interpreter) */
const BATCHES = args.batches.split(',').map(Number);
if (BATCHES.some((b) => !Number.isInteger(b) || b < 1 || b > 64)) throw new Error(`--batches: integers in 1..64, got ${args.batches}`);
const ACTIVATIONS = args.activations.split(',') as ActivationMode[];
if (ACTIVATIONS.some((a) => !(ACTIVATION_MODES as readonly string[]).includes(a))) throw new Error(`--activations: a list of ${ACTIVATION_MODES.join(', ')}, got ${args.activations}`);
/** the row label: lstm, lstm-fp8, lstm-bf16a, lstm-fp8-bf16a; the peer row is the label without "-bf16a" */
const labelOf = (model: string, quant: string, act: ActivationMode): string => `${model}${quant === 'none' ? '' : '-fp8'}${act === 'bf16' ? '-bf16a' : ''}`;


/** Weight bytes a proposal must read: every linear/matmul reads its whole weight; a gather reads B rows. */
export function weightBytesPerProposal(g: Graph, B: number): number {
  let bytes = 0;
  for (const n of graphNodes(g)) {
    if ((n.op === 'linear' || n.op === 'matmul') && n.src[1].op === 'param') bytes += numel(n.src[1].shape as number[]) * itemSize(n.src[1].dtype);
    if (n.op === 'gather' && n.src[0].op === 'param') bytes += B * numel(n.src[0].shape.slice(1) as number[]) * itemSize(n.src[0].dtype);
  }
  return bytes;
}

interface Row { model: string; B: number; ms: number | null; minMs?: number; eagerMs?: number; floorMs: number; weightBytes: number; proposeWallMs?: number; checked?: string; error?: string }

type Compile = (traced: Graph, o: CompileSpeculatorOptions) => { graph: Graph; plan: ExecutionPlan };

/**
 * The batch's drafts: graph replay vs eager (all rows) now, and vs the interpreter (rows 0, B/2, B-1) on
 * the pool's workers; the promise resolves to the error or null when the drafts are equal.
 */
function checkDrafts(ex: PlanExecutor, pool: InterpreterPool, model: number, inputs: { hidden: HostTensor; tokens: HostTensor }, B: number): { checked: string; error: Promise<string | null> } {
  const replay = ex.run(inputs, { graph: true }).draft.data as Int32Array;
  const eager = ex.run(inputs, { graph: false }).draft.data as Int32Array;
  const n = replay.length / B, H = SHAPE.hiddenSize;
  const rowsOf = (a: Int32Array, r: number): number[] => Array.from(a.subarray(r * n, (r + 1) * n));
  for (let r = 0; r < B; r++) {
    if (rowsOf(replay, r).join() !== rowsOf(eager, r).join()) return { checked: 'replay vs eager', error: Promise.resolve(`drafts: row ${r} graph replay [${rowsOf(replay, r)}] != eager [${rowsOf(eager, r)}]`) };
  }
  const picked = [...new Set([0, B >> 1, B - 1])];
  const checked = `replay = eager (${B} rows), = interpreter (rows ${picked.join(', ')})`;
  // one row per job, so the workers share a batch's rows
  const error = Promise.all(picked.map(async (r) => {
    const hidden = (inputs.hidden.data as Float32Array).slice(r * H, (r + 1) * H), tokens = Int32Array.of((inputs.tokens.data as Int32Array)[r]);
    const want = Array.from((await pool.run(model, { hidden: hostTensor('f32', [1, H], hidden), tokens: hostTensor('i32', [1], tokens) })).draft.data as Int32Array);
    return rowsOf(replay, r).join() !== want.join() ? `drafts: row ${r} GPU [${rowsOf(replay, r)}] != interpreter [${want}]` : null;
  })).then((errs) => errs.find((e) => e !== null) ?? null, (e: Error) => `interpreter check failed: ${e.message.split('\n')[0]}`);
  return { checked, error };
}

// quant 'fp8-head': the LM head in fp8 e4m3 + per-row f32 scale (rows "lstm-fp8", "mlp-fp8"); the floor
// counts the head at 1 byte per weight (the 0.5 MB of scales are left out: 0.1 % of the head)
async function benchModel(dev: CudaDevice, pool: InterpreterPool, model: 'lstm' | 'mlp', bw: number, compile: Compile, quant: 'none' | 'fp8-head', act: ActivationMode): Promise<{ rows: Row[]; checks: Promise<void> }> {
  const traced = (model === 'lstm' ? lstmSpeculator(SHAPE) : mlpSpeculator({ ...SHAPE, tieWeights: true })).graph;
  const label = labelOf(model, quant, act);
  let compiled: { graph: Graph; plan: ExecutionPlan };
  try { compiled = compile(traced, { quantize: quant, activations: act, maxBatch: Math.max(...BATCHES) }); } catch (e) {
    return { rows: BATCHES.map((B) => ({ model: label, B, ms: null, floorMs: NaN, weightBytes: 0, error: (e as Error).message.split('\n')[0] })), checks: Promise.resolve() };
  }
  const program = { graph: compiled.graph };
  const floors = BATCHES.map((B) => weightBytesPerProposal(program.graph, B));
  const fail = (e: unknown): Row[] => BATCHES.map((B, i) => ({ model: label, B, ms: null, floorMs: floors[i] / bw * 1e3, weightBytes: floors[i], error: (e as Error).message.split('\n')[0] }));
  let plan: ExecutionPlan;
  try {
    plan = compiled.plan;
    console.log(`[bench] ${label}: compiled: ${plan.kernels.length} kernels, ${plan.launches.length} launches, arena ${plan.arenaBytes} B`);
  } catch (e) { return { rows: fail(e), checks: Promise.resolve() }; }
  const t1 = performance.now();
  const weights = quant === 'none' ? randomWeights(program.graph) : quantizeGraph(traced, randomWeights(traced), quant).weights;
  // the pool's copy lives in shared memory; the executor uploads that one and the generated one is dropped
  const ref = pool.model(program.graph, weights);
  weights.clear();
  let ex: PlanExecutor;
  try {
    ex = new PlanExecutor(dev, plan, ref.weights);
  } catch (e) { pool.drop(ref.id); return { rows: fail(e), checks: Promise.resolve() }; }
  // the host copy stays for the interpreter check (checkDrafts), then is dropped
  console.log(`[bench] ${label}: weights generated and uploaded in ${(performance.now() - t1).toFixed(0)} ms (${(ex.deviceBytes / 2 ** 30).toFixed(2)} GiB on the device)`);
  const rows: Row[] = [];
  const checks: Promise<void>[] = [];
  const timer = new EventTimer(dev);
  try {
    for (const [i, B] of BATCHES.entries()) {
      try {
        const inputs = {
          hidden: hostTensor('f32', [B, SHAPE.hiddenSize], Float32Array.from({ length: B * SHAPE.hiddenSize }, (_, j) => Math.sin(j) * 2)),
          tokens: hostTensor('i32', [B], Int32Array.from({ length: B }, (_, j) => (j * 7919) % SHAPE.vocabSize)),
        };
        ex.run(inputs); // warm-up + graph capture for this bucket
        const ms: number[] = [];
        for (let r = 0; r < REPS; r++) {
          timer.start();
          ex.enqueue({ B }, { graph: true });
          timer.stop();
          ms.push(timer.elapsedMs());
        }
        const eager: number[] = [];
        for (let r = 0; r < 20; r++) {
          timer.start();
          ex.enqueue({ B }, { graph: false });
          timer.stop();
          eager.push(timer.elapsedMs());
        }
        const wall: number[] = [];
        for (let r = 0; r < 20; r++) { const t = performance.now(); await ex.runAsync(inputs); wall.push(performance.now() - t); }
        const t2 = performance.now();
        const check = checkDrafts(ex, pool, ref.id, inputs, B);
        const row: Row = { model: label, B, ms: median(ms), minMs: Math.min(...ms), eagerMs: median(eager), floorMs: floors[i] / bw * 1e3, weightBytes: floors[i], proposeWallMs: median(wall), checked: check.checked };
        rows.push(row);
        checks.push(check.error.then((error) => {
          console.log(`[bench] ${label} B=${B}: drafts ${error ? 'WRONG' : 'checked'} (${((performance.now() - t2) / 1e3).toFixed(1)} s after timing): ${error ?? check.checked}`);
          if (error) row.error = error;
        }));
      } catch (e) {
        rows.push(fail(e)[i]);
      }
    }
  } finally {
    timer.destroy();
    ex.close();
  }
  // the interpreter rows run on the pool while the next model is timed; this model's weights go when they are done
  const all = Promise.all(checks).then(() => { pool.drop(ref.id); ref.weights.clear(); });
  return { rows, checks: all };
}

async function main(): Promise<void> {
  const dev = openDevice();
  const report: Record<string, unknown> = { device: dev.description, driverVersion: dev.info.driverVersion, shape: SHAPE, reps: REPS, when: new Date().toISOString() };
  try {
    const bw = copyBandwidth(dev);
    report.copy = { bytes: 2 ** 30, ms: bw.ms, gbpsReadPlusWrite: bw.gbps };
    console.log(`[bench] copy: 1 GiB cuMemcpyDtoDAsync_v2 in ${bw.ms.toFixed(3)} ms = ${bw.gbps.toFixed(0)} GB/s (read + write)`);
    let compile: Compile | null = null;
    try {
      ({ compileSpeculator: compile } = await import('../runtime/compile-speculator.ts'));
    } catch (e) { report.compilerError = (e as Error).message; }
    const rows: Row[] = [];
    const pool = new InterpreterPool();
    console.log(`[bench] interpreter checks on ${pool.size} worker threads`);
    const pending: Promise<void>[] = [];
    for (const model of ['lstm', 'mlp'] as const) {
      if (compile) {
        for (const act of ACTIVATIONS) {
          for (const q of ['none', 'fp8-head'] as const) {
            // a model's timing starts once the previous one's executor is closed; its checks overlap what follows
            const r = await benchModel(dev, pool, model, bw.gbps * 1e9, compile, q, act);
            rows.push(...r.rows);
            pending.push(r.checks);
          }
        }
        continue;
      }
      const g = (model === 'lstm' ? lstmSpeculator(SHAPE) : mlpSpeculator({ ...SHAPE, tieWeights: true })).graph;
      for (const B of BATCHES) {
        const wb = weightBytesPerProposal(g, B);
        rows.push({ model, B, ms: null, floorMs: wb / (bw.gbps * 1e9) * 1e3, weightBytes: wb, error: `compiler/compile.ts not available: ${report.compilerError}` });
      }
    }
    await Promise.all(pending);
    await pool.close();
    report.rows = rows;
    const peer = args.peer && existsSync(args.peer) ? JSON.parse(readFileSync(args.peer, 'utf8')) as { rows?: { model: string; B: number; ms: number }[]; error?: string; torch?: string } : null;
    report.peer = peer;
    const tests = args.tests && existsSync(args.tests) ? JSON.parse(readFileSync(args.tests, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTotalTests: number } : null;
    if (tests) report.tests = { passed: tests.numPassedTests, failed: tests.numFailedTests, skipped: tests.numPendingTests, total: tests.numTotalTests };
    if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);

    const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
    console.log(`\n== GPU check: ${dev.description} ==`);
    if (tests) console.log(`tests: ${tests.numPassedTests} passed, ${tests.numFailedTests} failed, ${tests.numPendingTests} skipped of ${tests.numTotalTests}`);
    console.log(`copy bandwidth: ${bw.gbps.toFixed(0)} GB/s (1 GiB DtoD, read+write)`);
    console.log('model           B   ms/proposal  floor ms  floor/ms  torch ms  eager ms  wall ms  (weights GB/proposal)');
    for (const r of rows) {
      const p = peer?.rows?.find((x) => x.model === r.model.replace(/-bf16a$/, '') && x.B === r.B);
      const frac = r.ms ? `${(100 * r.floorMs / r.ms).toFixed(0)}%` : '-';
      console.log(`${r.model.padEnd(14)} ${String(r.B).padStart(2)}  ${f(r.ms).padStart(11)}  ${f(r.floorMs).padStart(8)}  ${frac.padStart(8)}  ${f(p?.ms).padStart(8)}  ${f(r.eagerMs).padStart(8)}  ${f(r.proposeWallMs).padStart(7)}  (${f(r.weightBytes / 1e9, 2)})${r.error ? `  error: ${r.error.slice(0, 120)}` : ''}`);
    }
    if (peer?.error) console.log(`torch peer: ${peer.error}`);
    const bad = rows.filter((r) => r.error);
    if (bad.length) {
      console.log(`${bad.length} of ${rows.length} rows are errors (a failed compile, run or draft check): exit 1`);
      process.exitCode = 1;
    }
  } finally {
    dev.release();
  }
}

await main();
