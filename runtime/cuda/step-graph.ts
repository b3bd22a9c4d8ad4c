// One CUDA graph per Arctic step (docs/chained-step-graph.md): the draft plan captured into the target's own
// step, so a model-drafted step is what a plain decoding step is on the stream: one host-to-device copy (the
// verify inputs and the chain block), one graph launch, one device-to-host copy (the verify outputs and the
// draft tokens), one sync. The graph is chain_gather (the draft's hidden rows from the last pass's hidden
// output, its last tokens from the chain block), the draft plan's launches, chain_scatter (the draft tokens
// into the verify's token rows and into the extra output words) and the verify plan's launches; one is
// captured per (draft bucket, verify dims) on first use, after that step ran eagerly (a captured warm-up
// replay would run the verify before the gather reads the previous pass's hidden rows).
import { CHAIN_GATHER, CHAIN_GATHER_THREADS, CHAIN_HEADER_WORDS, CHAIN_SCATTER, CHAIN_SCATTER_THREADS, chainBlockWords, emitChainGather, emitChainScatter } from '../../compiler/codegen/ptx/kernel-chain.ts';
import type { ParamType } from '../../compiler/codegen/plan.ts';
import type { CudaDevice } from './device.ts';
import type { CUfunction } from './driver.ts';
import type { PlanExecutor } from './executor.ts';
import { CudaGraph } from './graph.ts';
import type { PackedArgs } from './launch.ts';
import { ArgBlock, launchKernel } from './launch.ts';
import type { LoadedModule } from './module.ts';

/** The draft plan a target captures into its step graph (a CUDA speculator backend's, on the same device). */
export interface DraftPlanPort {
  readonly executor: PlanExecutor;
  /** the plan's output of draft tokens: i32[B, n] (batchFirst) or i32[n, B]; its inputs are hidden f32[B, H] and tokens i32[B] */
  readonly draftOutput: string;
  readonly batchFirst: boolean;
  readonly hiddenSize: number;
  readonly nPredict: number;
  /** the most rows one draft takes */
  readonly maxBatch: number;
  /** throws when the speculator is closed */
  assertOpen(): void;
  readonly closed: boolean;
}

/** One step's draft rows: b < count, in draft-row order. */
export interface ChainRows {
  /** rows of the last pass's hidden output (the state that produced each row's last token) */
  readonly src: Int32Array;
  /** each row's last token (the draft's input) */
  readonly last: Int32Array;
  /** the verify token row of each row's first draft token */
  readonly dst: Int32Array;
  /** how many draft tokens each row verifies (≤ nPredict) */
  readonly count: Int32Array;
}

const GATHER_TYPES: readonly ParamType[] = ['u64', 'u32', 'u64', 'u64', 'u64', 'u32'];
const SCATTER_TYPES: readonly ParamType[] = ['u64', 'u32', 'u64', 'u32', 'u32', 'u64', 'u64'];

export class StepGraph {
  readonly draft: DraftPlanPort;
  /** the most draft rows of one step (the chain block's capacity) */
  readonly capacity: number;
  readonly #dev: CudaDevice;
  readonly #verify: PlanExecutor;
  readonly #modules: LoadedModule[] = [];
  readonly #gather: CUfunction;
  readonly #scatter: CUfunction;
  readonly #gatherArgs: PackedArgs;
  readonly #scatterArgs = new Map<number, PackedArgs>();
  /** the argument blocks the packed arguments point into (kept alive while the kernels may be launched) */
  readonly #argBlocks: ArgBlock[] = [];
  readonly #graphs = new Map<string, CudaGraph>();
  readonly #useGraphs: boolean;
  #closed = false;

  /**
   * `verify`: the target's executor, created with extra words for the chain block (chainBlockWords(capacity))
   * and for the draft tokens (one per token row); `draft`: the speculator's plan on the same device.
   */
  constructor(dev: CudaDevice, verify: PlanExecutor, draft: DraftPlanPort, capacity: number, o: { graphs?: boolean } = {}) {
    if (draft.executor.device !== dev || verify.device !== dev) throw new Error('step graph: the draft and verify plans must run on one device');
    const hidden = verify.plan.buffers.find((b) => b.id === verify.plan.outputs.find((x) => x.name === 'hidden')?.buffer);
    if (hidden?.shape[1] !== draft.hiddenSize) throw new Error(`step graph: the draft plan reads hidden rows of ${draft.hiddenSize}, the target plan ${verify.plan.name} writes ${hidden ? `[${hidden.shape.join(', ')}]` : 'no hidden output'}`);
    this.#dev = dev;
    this.#verify = verify;
    this.#useGraphs = o.graphs ?? true;
    this.draft = draft;
    this.capacity = Math.min(capacity, draft.maxBatch);
    dev.makeCurrent();
    try {
      const g = dev.modules.load(emitChainGather(), 'the fused step\'s chain_gather kernel');
      this.#modules.push(g);
      const s = dev.modules.load(emitChainScatter(), 'the fused step\'s chain_scatter kernel');
      this.#modules.push(s);
      this.#gather = g.function(CHAIN_GATHER, 0);
      this.#scatter = s.function(CHAIN_SCATTER, 0);
    } catch (e) {
      this.close();
      throw e;
    }
    const d = draft.executor;
    this.#gatherArgs = this.#argBlock().pack(GATHER_TYPES, [
      verify.extraAddress('input'), this.capacity, verify.outputAddress('hidden'), d.inputAddress('hidden'), d.inputAddress('tokens'), draft.hiddenSize,
    ]);
  }

  /**
   * The draft bucket for `rows` draft rows: the next power of two (at most the capacity), padded as the draft
   * plan pads. Coarser than the plan's own buckets (1 … 8 each their own): the step graph is keyed by draft
   * bucket × verify dims, and a hybrid's model rows change from step to step, so every bucket multiplies the
   * captures (34 at 8 requests on `code` in the 2026-12-02 A/B, 0.3-0.5 ms each); the padded rows cost a
   * small draft little (bench/NOTES.md, "Session 2026-12-02 (3)").
   */
  bucket(rows: number): number {
    let p = 1;
    while (p < rows) p *= 2;
    return this.draft.executor.runDims({ B: Math.max(rows, Math.min(p, this.capacity)) }).B;
  }

  /** The chain block of one step (the verify executor's extra input words). */
  encode(rows: ChainRows): Int32Array {
    const n = rows.src.length, cap = this.capacity;
    if (n < 1 || n > cap) throw new RangeError(`step graph: ${n} draft rows; one step takes 1…${cap}`);
    const w = new Int32Array(chainBlockWords(cap));
    w[0] = n;
    w.set(rows.src, CHAIN_HEADER_WORDS);
    w.set(rows.last, CHAIN_HEADER_WORDS + cap);
    w.set(rows.dst, CHAIN_HEADER_WORDS + 2 * cap);
    w.set(rows.count, CHAIN_HEADER_WORDS + 3 * cap);
    return w;
  }

  /** RunOptions.launch for a step of `rows` draft rows: replays (or runs, then captures) the step graph at the run's dims. */
  launcher(rows: number): (run: Readonly<Record<string, number>>) => void {
    const bp = this.bucket(rows);
    return (run) => {
      if (this.#closed) throw new Error('step graph used after close()');
      this.draft.assertOpen();
      if (!this.#useGraphs) { this.#body(bp, run); return; }
      const key = `${bp}|${Object.keys(run).sort().map((k) => `${k}=${run[k]}`).join(',')}`;
      const hit = this.#graphs.get(key);
      if (hit) { hit.launch(); return; }
      // this step runs eagerly (a faulty launch fails with its own name); the next one replays the capture
      this.#body(bp, run);
      this.#graphs.set(key, CudaGraph.capture(this.#dev, () => this.#body(bp, run)));
    };
  }

  /** step graphs captured so far (tests) */
  get capturedGraphs(): number { return this.#graphs.size; }

  #body(bp: number, run: Readonly<Record<string, number>>): void {
    const d = this.draft;
    launchKernel(this.#dev, this.#gather, { grid: [bp, 1, 1], block: [CHAIN_GATHER_THREADS, 1, 1], sharedBytes: 0 }, this.#gatherArgs, 'the fused step\'s chain_gather');
    d.executor.enqueue({ B: bp }, { graph: false });
    launchKernel(this.#dev, this.#scatter, { grid: [bp, 1, 1], block: [CHAIN_SCATTER_THREADS, 1, 1], sharedBytes: 0 }, this.#scatterArgsFor(bp), 'the fused step\'s chain_scatter');
    this.#verify.enqueue(run, { graph: false });
  }

  #scatterArgsFor(bp: number): PackedArgs {
    let a = this.#scatterArgs.get(bp);
    if (!a) {
      const d = this.draft;
      a = this.#argBlock().pack(SCATTER_TYPES, [
        this.#verify.extraAddress('input'), this.capacity, d.executor.outputAddress(d.draftOutput), d.nPredict, d.batchFirst ? 0 : bp,
        this.#verify.inputAddress('tokens'), this.#verify.extraAddress('output'),
      ]);
      this.#scatterArgs.set(bp, a);
    }
    return a;
  }

  #argBlock(): ArgBlock {
    const b = new ArgBlock(ArgBlock.bytesFor([GATHER_TYPES, SCATTER_TYPES]));
    this.#argBlocks.push(b);
    return b;
  }

  /** Frees the graphs and the two modules; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const g of this.#graphs.values()) g.destroy();
    this.#graphs.clear();
    if (this.#dev.health.poisonedBy) return;
    for (const m of this.#modules.splice(0)) this.#dev.modules.release(m);
  }
}
