// The CUDA target backend: the decoder program compiled to one ExecutionPlan (maxDims N token rows, M
// head rows) behind the TargetBackend interface. The KV caches are the plan's state buffers: allocated
// once on the device, zero-filled, updated in place by the kv_write kernels, never copied through the
// host on a step. Inputs go in at their exact N and M (the target runtime pads rows itself, position −1),
// and a CUDA graph is captured per (N, M) on first use (its warm-up launch runs the step once more, which
// is harmless: a step's cache writes depend only on its inputs). N and M are padded to ArcticInference's
// batch buckets first (padding rows at position −1), so graphs are captured per bucket, not per length. The
// wait is synchronous: a step is on the critical path, and a worker-thread hand-off only adds latency.
import { compileProgram } from '../../compiler/compile.ts';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Program } from '../../dsl/index.ts';
import { llamaParam } from '../../models/llama.ts';
import type { OpenDeviceOptions } from '../cuda/device.ts';
import { openDevice } from '../cuda/device.ts';
import { EXTRA_OUTPUT, PlanExecutor } from '../cuda/executor.ts';
import { chainBlockWords } from '../../compiler/codegen/ptx/kernel-chain.ts';
import type { DraftPlanPort } from '../cuda/step-graph.ts';
import { StepGraph } from '../cuda/step-graph.ts';
import { paddingSize } from '../cuda/plan-layout.ts';
import type { TargetBackend, TargetRunOptions, TargetStepInputs, TargetStepOutputs } from './backend.ts';
import { argmaxRows } from './cpu-backend.ts';
import type { WeightData } from '../weight-data.ts';

export interface CudaTargetOptions extends OpenDeviceOptions {
  /** the most token rows (N) and head rows (M) of one forward pass: sizes the activations and the arena */
  readonly maxTokens: number;
  readonly maxRows: number;
  /** for readCache's range check (default: counted from the plan's state) */
  readonly numLayers?: number;
  readonly vocabSize?: number;
  /** capture a CUDA graph per (N, M) (default true) */
  readonly graphs?: boolean;
  /**
   * run a chained model draft inside the target's step graph (runtime/cuda/step-graph.ts; default true,
   * ARCTICC_FUSED_STEP=0 turns it off): false enqueues the draft's own graph and copies in front of the pass
   */
  readonly fusedSteps?: boolean;
}

/** What a target plan must offer: the four row inputs, hidden, and logits and/or next_tokens. */
function checkTargetPlan(plan: ExecutionPlan): { vocab: number | null; logits: boolean; argmax: boolean } {
  const why = (s: string): Error => new Error(`plan ${plan.name} is not a target-model plan: ${s}`);
  const names = new Set(plan.inputs.map((id) => plan.buffers.find((b) => b.id === id)?.name));
  for (const n of ['tokens', 'positions', 'slots', 'rows']) if (!names.has(n)) throw why(`needs input ${n}: i32[${n === 'rows' ? 'M' : 'N'}]`);
  const out = new Map(plan.outputs.map((o) => [o.name, plan.buffers.find((b) => b.id === o.buffer)!]));
  if (!out.has('hidden')) throw why('needs output hidden: f32[M, H]');
  const logits = out.get('logits');
  if (!logits && !out.has('next_tokens')) throw why('needs output logits: f32[M, V] or next_tokens: i32[M]');
  const v = logits?.shape[1];
  return { vocab: typeof v === 'number' ? v : null, logits: !!logits, argmax: out.has('next_tokens') };
}

/** The CUDA backend, with its executor reachable for benchmarks (enqueue timing, state fills). */
export interface CudaTargetBackend extends TargetBackend {
  readonly executor: PlanExecutor;
}

export async function createCudaTargetBackend(program: Program, weights: ReadonlyMap<string, WeightData>, o: CudaTargetOptions): Promise<CudaTargetBackend> {
  for (const k of ['maxTokens', 'maxRows'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`createCudaTargetBackend: ${k} must be a positive integer, got ${o[k]}`);
  }
  return cudaTargetBackendOver(compileProgram(program.graph, { maxDims: { N: o.maxTokens, M: o.maxRows } }), weights, o);
}

/** The backend over a compiled target plan (maxDims N = maxTokens, M = maxRows); tests hand it plans of their own. */
export function cudaTargetBackendOver(plan: ExecutionPlan, weights: ReadonlyMap<string, WeightData>, o: CudaTargetOptions): CudaTargetBackend {
  const heads = checkTargetPlan(plan);
  const V = heads.vocab ?? o.vocabSize ?? 0;
  const hiddenBuf = plan.buffers.find((b) => b.id === plan.outputs.find((x) => x.name === 'hidden')!.buffer)!;
  const H = hiddenBuf.shape[1] as number;
  const layers = o.numLayers ?? (plan.state ?? []).filter((s) => s.input.endsWith('_key')).length;
  const device = openDevice(o);
  let exec: PlanExecutor;
  try {
    // the fused step's chain block (one row per head row) and draft tokens (one per token row) ride in the packed blocks
    exec = new PlanExecutor(device, plan, weights, { graphs: o.graphs ?? true, extra: { inputWords: chainBlockWords(o.maxRows), outputWords: o.maxTokens } });
  } catch (e) {
    device.release();
    throw e;
  }
  let closed = false;
  const fuses = (o.fusedSteps ?? true) && process.env.ARCTICC_FUSED_STEP !== '0';
  // one step graph per draft plan (a closed speculator's is dropped at the next fused run)
  const stepGraphs = new Map<DraftPlanPort, StepGraph>();
  const stepGraphFor = (port: DraftPlanPort): StepGraph => {
    for (const [p, g] of stepGraphs) if (p.closed) { g.close(); stepGraphs.delete(p); }
    let g = stepGraphs.get(port);
    if (!g) stepGraphs.set(port, g = new StepGraph(device, exec, port, o.maxRows, { graphs: o.graphs ?? true }));
    return g;
  };
  const assertOpen = (): void => { if (closed) throw new Error('the CUDA target backend is closed'); };
  const maxStr = `N ≤ ${o.maxTokens} token rows, M ≤ ${o.maxRows} head rows`;

  return {
    device: 'cuda',
    executor: exec,
    description: `${device.description}, plan ${plan.name} (${plan.launches.length} launches, ${maxStr}), KV cache on the device, CUDA graph per (N, M) bucket`,
    chain: {
      chainKey: device,
      hiddenRowAddress: (row: number) => exec.outputAddress('hidden') + BigInt(row * H * 4),
      fusesDrafts: fuses,
    },
    async run(x: TargetStepInputs, ro: TargetRunOptions): Promise<TargetStepOutputs> {
      assertOpen();
      const n = x.tokens.length, m = x.rows.length;
      if (x.positions.length !== n || x.slots.length !== n) throw new RangeError(`run: tokens, positions and slots must have one entry per row (${n}, ${x.positions.length}, ${x.slots.length})`);
      if (n < 1 || n > o.maxTokens) throw new RangeError(`run: ${n} token rows; this backend takes 1…${o.maxTokens} (maxTokens)`);
      if (m < 1 || m > o.maxRows) throw new RangeError(`run: ${m} head rows; this backend takes 1…${o.maxRows} (maxRows)`);
      if (ro.logits && !heads.logits) throw new Error(`run: logits were asked for, but plan ${plan.name} has an argmax head (logits never leave the device)`);
      // with both heads, greedy steps leave the logits on the device
      const wanted = heads.argmax && heads.logits && !ro.logits ? { outputs: ['hidden', 'next_tokens'] } : {};
      // N and M padded to ArcticInference's buckets, so a few captured graphs serve every mix of lengths:
      // padding token rows sit at position −1 (no cache write, zero attention), padding head rows re-read row 0
      const np = Math.min(paddingSize(n), o.maxTokens), mp = Math.min(paddingSize(m), o.maxRows);
      const pad = (a: Int32Array, len: number, fill: number): Int32Array => {
        if (a.length === len) return a;
        const out = new Int32Array(len).fill(fill);
        out.set(a);
        return out;
      };
      const inputs = {
        tokens: hostTensor('i32', [np], pad(x.tokens, np, 0)), positions: hostTensor('i32', [np], pad(x.positions, np, -1)),
        slots: hostTensor('i32', [np], pad(x.slots, np, 0)), rows: hostTensor('i32', [mp], pad(x.rows, mp, 0)),
      };
      const fd = ro.fusedDraft;
      if (fd && (!fuses || ro.beforeEnqueue)) throw new Error(`run: a fused draft ${fuses ? 'with beforeEnqueue as well' : 'but fused steps are off for this backend'}`);
      // a fused draft: the draft plan inside this pass's step graph, its chain block staged with the inputs
      const step = fd ? stepGraphFor(fd.port) : null;
      const fused = step ? { extraInput: step.encode(fd!.rows), extraOutput: n, launch: step.launcher(fd!.rows.src.length) } : {};
      // a chained draft goes on the stream first; its tokens are patched into the verify rows on the device
      const patches = ro.beforeEnqueue?.();
      let run;
      try {
        const overlap = ro.whileRunning ? { whileRunning: ro.whileRunning } : {};
        run = exec.run(inputs, patches ? { ...wanted, ...overlap, patches: { tokens: patches } } : { ...wanted, ...overlap, ...fused });
      } catch (e) {
        // what the chain enqueued must be done before its staging buffers are reused
        if (patches) try { device.synchronize(); } catch { /* the first error is the one to report */ }
        throw e;
      }
      const logits = (run.logits?.data as Float32Array | undefined)?.subarray(0, m * (V || 1));
      const nextTokens = heads.argmax ? (run.next_tokens.data as Int32Array).subarray(0, m) : argmaxRows(logits!, m, V);
      return {
        hidden: (run.hidden.data as Float32Array).subarray(0, m * H), nextTokens, ...(ro.logits && logits ? { logits } : {}),
        ...(step ? { draftTokens: run[EXTRA_OUTPUT].data as Int32Array } : {}),
      };
    },
    readCache(layer: number, kind: 'key' | 'value'): HostTensor {
      assertOpen();
      if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new RangeError(`readCache: no layer ${layer} (the model has ${layers})`);
      return exec.readState(llamaParam.cache(layer, kind));
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        for (const g of stepGraphs.values()) g.close();
        exec.close();
      } finally { device.release(); }
    },
  };
}
