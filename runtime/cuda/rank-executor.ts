// Runs one rank of a tensor-parallel speculator on its device: the stages of the rank program
// (compileRankStages: stageAtCollectives, each stage one plan) with the rank's all-gather between them
// (ncclAllGather on the same stream), the whole k-step proposal captured in ONE CUDA graph per batch
// bucket. The stages share their buffers on the device: the graph inputs (hidden, tokens), the carries
// (`carry.i`: an output of one stage, an input of a later one), each collective's send buffer (output
// `all_gather.k.send` of stage k) and receive buffer (input `all_gather.k` of stage k+1), and the weights
// (uploaded once, whatever stages read them). So nothing goes to the host between the steps: the host
// copies hidden and tokens in, replays the graph, and copies the draft out.
import { withDerivedWeights } from '../../compiler/codegen/derive-weights.ts';
import type { PlanBuffer } from '../../compiler/codegen/plan.ts';
import type { DType } from '../../compiler/ir/dtype.ts';
import { itemSize } from '../../compiler/ir/dtype.ts';
import type { Dim } from '../../compiler/ir/shape.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { gatheredInputName, sendOutputName } from '../../compiler/passes/tensor-parallel.ts';
import type { CompiledRankStage } from '../compile-speculator.ts';
import { NcclDataType } from '../nccl/nccl.ts';
import type { CudaDevice } from './device.ts';
import type { CUdeviceptr, CUstream } from './driver.ts';
import { PlanExecutor } from './executor.ts';
import { CudaGraph } from './graph.ts';
import type { PinnedBuffer } from './memory.ts';
import { fmtBytes } from './memory.ts';
import { bucketFor, bufferBytes, bufferById, checkWeights } from './plan-layout.ts';

/** What the rank executor needs of a communicator (NcclCommunicator has it; tests and the bench pass others). */
export interface AllGather {
  /** gathers `sendcount` elements of every rank into recv (nranks × sendcount, rank-major), enqueued on `stream` */
  allGather(send: CUdeviceptr, recv: CUdeviceptr, sendcount: number, datatype: number, stream: CUstream): void;
}

export interface RankExecutorOptions {
  /** capture one CUDA graph per batch bucket and replay it (default true); false launches stage by stage */
  graphs?: boolean;
  /** the communicator; may also be set later with setCollective (it is needed from the first run on) */
  collective?: AllGather;
}

interface Shared { readonly name: string; readonly dtype: DType; readonly shape: readonly Dim[]; readonly ptr: CUdeviceptr; readonly bytes: number }
interface Gather { readonly seq: number; readonly send: Shared; readonly recv: Shared }

const NCCL_TYPE: Partial<Record<DType, number>> = { f32: NcclDataType.float32, i32: NcclDataType.int32 };

const sameShape = (a: readonly Dim[], b: readonly Dim[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export class RankExecutor {
  readonly device: CudaDevice;
  readonly maxBatch: number;
  readonly hiddenSize: number;
  readonly nPredict: number;
  readonly stages: readonly { readonly exec: PlanExecutor; readonly then: number | null }[];
  readonly #graphs: boolean;
  readonly #shared = new Map<string, Shared>();
  readonly #weights = new Map<string, CUdeviceptr>();
  readonly #owned: CUdeviceptr[] = [];
  readonly #pinned: PinnedBuffer[] = [];
  readonly #gathers: Gather[];
  readonly #captured = new Map<number, CudaGraph>();
  readonly #draftBatchFirst: boolean;
  readonly #stage: { hidden: PinnedBuffer; tokens: PinnedBuffer; draft: PinnedBuffer };
  #collective: AllGather | null;
  #bytes = 0;
  #closed = false;

  /** Checks, allocates the shared buffers, uploads the weights once, loads every stage. Frees all of it on failure. */
  constructor(device: CudaDevice, stages: readonly CompiledRankStage[], given: ReadonlyMap<string, HostTensor>, o: RankExecutorOptions = {}) {
    // the stages' derived params (the certified head's Ŵ), made once from the given weights
    let weights = given;
    for (const s of stages) weights = withDerivedWeights(s.plan, weights);
    if (stages.length === 0) throw new Error('rank executor: no stages');
    this.device = device;
    this.#graphs = o.graphs ?? true;
    this.#collective = o.collective ?? null;
    const maxB = stages[0].plan.maxDims.B;
    if (maxB === undefined || stages.some((s) => s.plan.maxDims.B !== maxB)) throw new Error(`rank executor: every stage must be compiled for the same maxDims.B (got ${stages.map((s) => s.plan.maxDims.B).join(', ')})`);
    this.maxBatch = maxB;
    const max = { B: maxB };
    // every input/output name, with one dtype and shape across the stages
    const io = new Map<string, PlanBuffer>();
    // an output named other than its buffer (two outputs of one value, e.g. a send that is also a carry) reads that buffer
    const aliases = new Map<string, string>();
    for (const s of stages) {
      const p = s.plan;
      const named: [string, PlanBuffer][] = [
        ...p.inputs.map((id) => { const b = bufferById(p, id); return [b.name ?? b.id, b] as [string, PlanBuffer]; }),
        ...p.outputs.map((x) => {
          const b = bufferById(p, x.buffer);
          if (b.kind !== 'output' || !b.name) throw new Error(`rank executor: output "${x.name}" of plan ${p.name} is not an output buffer (${b.kind} ${b.id})`);
          if (b.name !== x.name) aliases.set(x.name, b.name);
          return [b.name, b] as [string, PlanBuffer];
        }),
      ];
      for (const [name, b] of named) {
        const seen = io.get(name);
        if (seen && (seen.dtype !== b.dtype || !sameShape(seen.shape, b.shape))) throw new Error(`rank executor: "${name}" is ${seen.dtype}[${seen.shape.join(',')}] in one stage and ${b.dtype}[${b.shape.join(',')}] in plan ${p.name}`);
        if (b.shape.some((d) => typeof d === 'string' && d !== 'B')) throw new Error(`rank executor: "${name}" of plan ${p.name} has a dim other than B: [${b.shape.join(',')}]`);
        io.set(name, seen ?? b);
      }
    }
    const hidden = io.get('hidden'), tokens = io.get('tokens'), draft = io.get(aliases.get('draft') ?? 'draft');
    if (!hidden || hidden.dtype !== 'f32' || hidden.shape.length !== 2 || hidden.shape[0] !== 'B' || typeof hidden.shape[1] !== 'number') throw new Error('rank executor: the stages need input hidden: f32[B, H]');
    if (!tokens || tokens.dtype !== 'i32' || !sameShape(tokens.shape, ['B'])) throw new Error('rank executor: the stages need input tokens: i32[B]');
    const last = stages[stages.length - 1].plan;
    if (!draft || !last.outputs.some((x) => x.name === 'draft') || draft.dtype !== 'i32' || draft.shape.length !== 2 || !draft.shape.includes('B')) throw new Error('rank executor: the last stage must output draft: i32[B, n] (or [n, B])');
    this.hiddenSize = hidden.shape[1] as number;
    this.#draftBatchFirst = draft.shape[0] === 'B';
    const n = draft.shape[this.#draftBatchFirst ? 1 : 0];
    if (typeof n !== 'number') throw new Error('rank executor: the draft length must be static');
    this.nPredict = n;

    device.makeCurrent();
    const loaded: PlanExecutor[] = [];
    try {
      for (const [name, b] of io) {
        if (aliases.has(name)) continue; // it is another output's buffer (below)
        const bytes = bufferBytes(b, max);
        const ptr = this.#alloc(bytes, `${name} shared by the stages (${b.dtype}[${b.shape.join(',')}] at B=${maxB})`);
        this.#shared.set(name, { name, dtype: b.dtype, shape: b.shape, ptr, bytes });
      }
      for (const [alias, of] of aliases) {
        const target = this.#shared.get(of)!;
        const reader = io.get(alias);
        if (reader && (reader.dtype !== target.dtype || !sameShape(reader.shape, target.shape))) throw new Error(`rank executor: "${alias}" (${reader.dtype}[${reader.shape.join(',')}]) is an output of buffer "${of}" (${target.dtype}[${target.shape.join(',')}])`);
        this.#shared.set(alias, { ...target, name: alias });
      }
      // the collectives: stage k sends all_gather.k.send, a later stage reads all_gather.k
      this.#gathers = stages.flatMap((s, i) => {
        if (s.then === null) return [];
        const k = s.then;
        if (!s.plan.outputs.some((x) => x.name === sendOutputName(k))) throw new Error(`rank executor: stage ${i} is followed by collective ${k} but has no output ${sendOutputName(k)}`);
        const send = this.#shared.get(sendOutputName(k))!;
        const recv = this.#shared.get(gatheredInputName(k));
        if (!recv) throw new Error(`rank executor: no stage reads the result of collective ${k} (${gatheredInputName(k)})`);
        if (NCCL_TYPE[send.dtype] === undefined || recv.dtype !== send.dtype) throw new Error(`rank executor: collective ${k} sends ${send.dtype} and receives ${recv.dtype}; f32 or i32 on both sides`);
        if (!sameShape(recv.shape.slice(1), send.shape) || typeof recv.shape[0] !== 'number') throw new Error(`rank executor: collective ${k} gathers [${send.shape.join(',')}] into [${recv.shape.join(',')}], not [ranks, ${send.shape.join(',')}]`);
        return [{ seq: k, send, recv }];
      });
      // the weights: checked against every stage, uploaded once
      for (const s of stages) checkWeights(s.plan, weights);
      for (const s of stages) {
        for (const b of s.plan.buffers) {
          if (b.kind !== 'param' || this.#weights.has(b.name!)) continue;
          const t = weights.get(b.name!)!;
          const p = this.#alloc(t.data.byteLength, `weight "${b.name}" (${b.dtype}[${t.shape.join(',')}])`);
          device.memory.upload(p, t.data, t.data.byteLength);
          this.#weights.set(b.name!, p);
        }
      }
      const bound = { io: new Map([...this.#shared].map(([k, v]) => [k, v.ptr])), params: this.#weights };
      for (const s of stages) loaded.push(new PlanExecutor(device, s.plan, weights, { graphs: false, bound }));
      this.stages = stages.map((s, i) => ({ exec: loaded[i], then: s.then }));
      const pin = (b: Shared): PinnedBuffer => { const p = device.memory.allocPinned(b.bytes); this.#pinned.push(p); return p; };
      this.#stage = { hidden: pin(this.#shared.get('hidden')!), tokens: pin(this.#shared.get('tokens')!), draft: pin(this.#shared.get('draft')!) };
    } catch (e) {
      const held = this.#bytes;
      for (const x of loaded) x.close();
      this.#free();
      if (e instanceof Error) e.message += `\n(loading a rank program of ${stages.length} stages on ${device.description}: freed ${fmtBytes(held)} of shared buffers and weights)`;
      throw e;
    }
  }

  /** device bytes held: the shared buffers and weights, and every stage's own (temporaries) */
  get deviceBytes(): number { return this.#bytes + this.stages.reduce((a, s) => a + s.exec.deviceBytes, 0); }
  /** the captured graphs (one per batch bucket run so far) */
  get capturedGraphs(): number { return this.#captured.size; }
  get closed(): boolean { return this.#closed; }
  /** the collectives per proposal, in the order they are issued */
  get collectives(): readonly { seq: number; sendcountAtMax: number }[] {
    return this.#gathers.map((g) => ({ seq: g.seq, sendcountAtMax: g.send.bytes / itemSize(g.send.dtype) }));
  }

  setCollective(c: AllGather): void { this.#collective = c; }

  /** The device address of a shared buffer (hidden, tokens, draft, carry.i, all_gather.k[.send]). */
  address(name: string): CUdeviceptr {
    const s = this.#shared.get(name);
    if (!s) throw new Error(`rank executor: no shared buffer "${name}" (${[...this.#shared.keys()].join(', ')})`);
    return s.ptr;
  }

  #alloc(bytes: number, label: string): CUdeviceptr {
    const p = this.device.memory.alloc(bytes, label);
    this.#owned.push(p);
    this.#bytes += Math.max(16, Math.ceil(bytes));
    return p;
  }

  /** The stages and the collectives between them, for the bucket `B`, as launches on the stream. */
  #body(B: number): void {
    const c = this.#collective;
    if (!c && this.#gathers.length) throw new Error('rank executor: no communicator (setCollective) for the all-gathers');
    const dims = { B };
    for (const s of this.stages) {
      s.exec.enqueue(dims, { graph: false });
      if (s.then === null) continue;
      const g = this.#gathers.find((x) => x.seq === s.then)!;
      const count = g.send.shape.reduce<number>((a, d) => a * (d === 'B' ? B : (d as number)), 1);
      c!.allGather(g.send.ptr, g.recv.ptr, count, NCCL_TYPE[g.send.dtype]!, this.device.stream);
    }
  }

  /**
   * Enqueues one proposal's kernels and collectives for `batch` (bucketed) without copies: one graph
   * replay (captured on first use after one eager warm-up) or, without graphs, stage by stage.
   */
  enqueue(batch: number, o: { graph?: boolean } = {}): void {
    this.#assertOpen();
    const B = this.bucket(batch);
    this.device.makeCurrent();
    if (!(o.graph ?? this.#graphs)) { this.#body(B); return; }
    let g = this.#captured.get(B);
    if (!g) {
      // the warm-up runs every kernel (and collective) once outside the capture: a faulty launch fails with its own name
      this.#body(B);
      g = CudaGraph.capture(this.device, () => this.#body(B));
      this.#captured.set(B, g);
    }
    g.launch();
  }

  /** the batch the kernels run with (the bucket of `batch`) */
  bucket(batch: number): number {
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxBatch) throw new RangeError(`rank executor: batch ${batch} must be an integer in [1, ${this.maxBatch}]`);
    return bucketFor(batch, this.maxBatch);
  }

  /**
   * Copies hidden (B×H) and tokens (B) in (padding rows zero), enqueues the proposal and the copy of the
   * draft back, without waiting: then wait for the stream (device.synchronize/synchronizeAsync) and call
   * draftOf(batch).
   */
  start(hidden: Float32Array, tokens: Int32Array, batch: number, o: { graph?: boolean } = {}): void {
    this.#assertOpen();
    const H = this.hiddenSize;
    const B = this.bucket(batch);
    if (hidden.length !== batch * H) throw new RangeError(`rank executor: hidden has ${hidden.length} values, batch ${batch} × H ${H} needs ${batch * H}`);
    if (tokens.length !== batch) throw new RangeError(`rank executor: tokens has ${tokens.length} values, batch needs ${batch}`);
    this.device.makeCurrent();
    const h = new Float32Array(this.#stage.hidden.view, 0, B * H);
    h.set(hidden);
    h.fill(0, batch * H);
    const t = new Int32Array(this.#stage.tokens.view, 0, B);
    t.set(tokens);
    t.fill(0, batch);
    this.device.cu('cuMemcpyHtoDAsync_v2', this.address('hidden'), this.#stage.hidden.ptr, B * H * 4, this.device.stream);
    this.device.cu('cuMemcpyHtoDAsync_v2', this.address('tokens'), this.#stage.tokens.ptr, B * 4, this.device.stream);
    this.enqueue(batch, o);
    this.device.cu('cuMemcpyDtoHAsync_v2', this.#stage.draft.ptr, this.address('draft'), B * this.nPredict * 4, this.device.stream);
  }

  /** The B×n draft (row-major) of the last start(), once the stream has finished. */
  draftOf(batch: number): Int32Array {
    const n = this.nPredict, B = this.bucket(batch);
    const d = new Int32Array(this.#stage.draft.view, 0, B * n);
    if (this.#draftBatchFirst) return d.slice(0, batch * n);
    const out = new Int32Array(batch * n);
    for (let i = 0; i < batch; i++) for (let j = 0; j < n; j++) out[i * n + j] = d[j * B + i];
    return out;
  }

  /** start(), wait on this thread, draftOf(). */
  propose(hidden: Float32Array, tokens: Int32Array, batch: number, o: { graph?: boolean } = {}): Int32Array {
    this.start(hidden, tokens, batch, o);
    this.device.synchronize();
    return this.draftOf(batch);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('rank executor used after close()');
    this.device.health.assertUsable('running a rank program');
  }

  #free(): void {
    for (const g of this.#captured.values()) g.destroy();
    this.#captured.clear();
    for (const p of this.#owned.splice(0)) this.device.memory.free(p);
    for (const p of this.#pinned.splice(0)) this.device.memory.freePinned(p);
    this.#bytes = 0;
  }

  /** Frees graphs, stages, shared buffers and weights (not the communicator). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.stages ?? []) s.exec.close();
    this.#free();
  }
}
