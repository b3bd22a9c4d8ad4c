// Runs an ExecutionPlan on one device: buffers at maxDims, one arena for temps, weights uploaded once
// (host tensors, or streamed from a checkpoint through pinned chunks: runtime/cuda/weight-upload.ts),
// launches replayed from a CUDA graph per (bucketed) dims binding. Inputs go through pinned staging
// buffers into the padded rows (padding = zero bytes: token 0, hidden 0.0, so kernels never read
// garbage); outputs come back cropped to the caller's batch. Donated state (a KV cache, plan.state) is
// allocated once at its static shape, zero-filled, and stays on the device: run() never stages it from
// the host or copies it back; readState/writeState/zeroState reach it directly.
import { withDerivedWeights } from '../../compiler/codegen/derive-weights.ts';
import type { ExecutionPlan, LaunchArg, PlanKernel } from '../../compiler/codegen/plan.ts';
import { evalGrid } from '../../compiler/codegen/plan.ts';
import { itemSize } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { allocData, hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { CUdeviceptr, CUfunction } from './driver.ts';
import type { CudaDevice } from './device.ts';
import { CudaGraph } from './graph.ts';
import type { ArgValue, LaunchDims, PackedArgs } from './launch.ts';
import { ArgBlock, launchKernel } from './launch.ts';
import type { LaunchTiming } from './launch-profile.ts';
import { profileSteps } from './launch-profile.ts';
import type { PinnedBuffer } from './memory.ts';
import { fmtBytes } from './memory.ts';
import type { LoadedModule } from './module.ts';
import type { WeightData } from '../weight-data.ts';
import { weightByteLength } from '../weight-data.ts';
import { uploadWeights } from './weight-upload.ts';
import type { DeviceSpan } from './device-spans.ts';
import { checkSpans } from './device-spans.ts';
import { bindInputs, bucketFor, bufferBytes, bufferById, bytesOf, checkWeights, copyBlock, resolveDims } from './plan-layout.ts';

/** An input already in device memory: `ptr` holds the tensor, row-major, at `shape` (no padding). */
export interface DeviceInput {
  readonly dtype: HostTensor['dtype'];
  readonly shape: readonly number[];
  readonly ptr: CUdeviceptr;
}

/**
 * An input assembled on the device from spans of other device memory (e.g. the rows of another plan's
 * output, gathered): the buffer is zero-filled, then each span copied in, all on the stream.
 */
export interface GatherInput {
  readonly dtype: HostTensor['dtype'];
  readonly shape: readonly number[];
  readonly gather: readonly DeviceSpan[];
}

export type { DeviceSpan } from './device-spans.ts';

/** A plan input: host data (staged through pinned memory), device memory or device spans (copied device to device). */
export type RunInput = HostTensor | DeviceInput | GatherInput;

/** A run whose copies and launches are enqueued but not waited for: collect() after the caller's sync. */
export interface PendingRun {
  /** the wanted outputs, cropped to the run's dims; only after a stream sync that followed begin() */
  collect(): Record<string, HostTensor>;
  /** drops the run without reading it (its enqueued work may still complete); the executor is free again */
  discard(): void;
}

export interface ExecutorOptions {
  /** the dim padded to ArcticInference buckets and captured per bucket (default "B" when the plan has it) */
  batchDim?: string;
  /** capture a CUDA graph per bucket and replay it (default true); false launches kernel by kernel */
  graphs?: boolean;
  /**
   * Device buffers owned by the caller, used instead of allocating: `io` by input/output name (sized at
   * maxDims; such inputs are not staged, such outputs not copied back: the caller reaches them on the
   * device), `params` by weight name (already uploaded). The stages of a tensor-parallel rank program
   * share their inputs, carries, collective buffers and weights this way (runtime/cuda/rank-executor.ts).
   */
  bound?: { readonly io?: ReadonlyMap<string, CUdeviceptr>; readonly params?: ReadonlyMap<string, CUdeviceptr> };
  /**
   * i32 words reserved beside the plan's own inputs and outputs, in the same packed blocks: an input slot
   * staged by the same host-to-device copy (RunOptions.extraInput) and an output slot read back by the same
   * device-to-host copy (RunOptions.extraOutput), for kernels a caller launches around the plan (RunOptions.launch).
   * The fused Arctic step keeps its chain block and its draft tokens there (runtime/cuda/step-graph.ts).
   */
  extra?: { readonly inputWords?: number; readonly outputWords?: number };
}

/** The key of RunOptions.extraOutput's words in a run's outputs (i32[extraOutput]). */
export const EXTRA_OUTPUT = '\0extra';
const EXTRA_IN = '\0extra-in', EXTRA_OUT = '\0extra-out';

export interface RunOptions {
  /** override ExecutorOptions.graphs for this run (tests compare graph replay with eager launches) */
  graph?: boolean;
  /** copy back only these outputs (default all): a target step leaves its logits on the device when greedy */
  outputs?: readonly string[];
  /**
   * Device-to-device overwrites of staged host inputs, by input name, enqueued after the staging copy: e.g.
   * a verify pass's draft-token rows taken from the draft plan's output on the device.
   */
  patches?: Readonly<Record<string, readonly DeviceSpan[]>>;
  /** words for the extra input slot (ExecutorOptions.extra), staged with the plan's inputs */
  extraInput?: Int32Array;
  /** how many words of the extra output slot to read back with the outputs (as EXTRA_OUTPUT) */
  extraOutput?: number;
  /**
   * Enqueues the launches in place of the plan's own (graph or eager) at the run's padded dims: a caller's
   * graph around the plan (runtime/cuda/step-graph.ts). The run's copies stay the executor's.
   */
  launch?: (run: Readonly<Record<string, number>>) => void;
  /**
   * run() only: host work done on this thread once the run is enqueued, before the wait for it (the engine's
   * deferred suffix-tree updates, docs/suffix-overlap.md). If it throws, the run is still waited for, its
   * outputs are dropped and the error is the run's.
   */
  whileRunning?: () => void;
}

interface Prepared {
  readonly block: ArgBlock;
  readonly steps: { fn: CUfunction; dims: LaunchDims; args: PackedArgs; what: string }[];
  graph: CudaGraph | null;
}

export class PlanExecutor {
  readonly device: CudaDevice;
  readonly plan: ExecutionPlan;
  readonly batchDim: string | null;
  readonly #graphs: boolean;
  readonly #bound: NonNullable<ExecutorOptions['bound']>;
  readonly #addr = new Map<string, CUdeviceptr>();
  readonly #owned: CUdeviceptr[] = [];
  readonly #pinned = new Map<string, PinnedBuffer>();
  readonly #modules = new Map<string, LoadedModule>();
  readonly #fns = new Map<string, CUfunction>();
  readonly #prepared = new Map<string, Prepared>();
  /**
   * The staged inputs (two or more, none also an output, none bound) share one device block and one pinned
   * block at the same offsets, so a run copies them all in with one cuMemcpyHtoDAsync instead of one per input.
   */
  readonly #packed = new Map<string, { view: Uint8Array; offset: number }>();
  #inBlock: { dev: CUdeviceptr; pinned: PinnedBuffer } | null = null;
  /** outputs laid out in one device block and one pinned block (#packOutputs), so adjacent ones come back in one copy */
  readonly #outPacked = new Map<string, { view: Uint8Array; offset: number; index: number }>();
  #outBlock: { dev: CUdeviceptr; pinned: PinnedBuffer } | null = null;
  readonly #extraWords: { input: number; output: number };
  #bytes = 0;
  #closed = false;
  #busy = false;
  /** a begin() not yet collected or discarded: its staging buffers are still in use */
  #pending = false;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Checks the weights, loads every module, allocates and uploads. Any failure (bad weight, JIT error,
   * out of memory) frees everything this call allocated before the error propagates.
   */
  constructor(device: CudaDevice, plan: ExecutionPlan, given: ReadonlyMap<string, WeightData>, o: ExecutorOptions = {}) {
    const weights = withDerivedWeights(plan, given); // the certified head's Ŵ (compiler/codegen/derive-weights.ts)
    checkWeights(plan, weights);
    this.device = device;
    this.plan = plan;
    const bd = o.batchDim ?? 'B';
    this.batchDim = plan.maxDims[bd] !== undefined ? bd : null;
    this.#graphs = o.graphs ?? true;
    this.#bound = o.bound ?? {};
    const words = (w: number | undefined, what: string): number => {
      if (w === undefined) return 0;
      if (!Number.isInteger(w) || w < 0) throw new RangeError(`plan ${plan.name}: extra.${what} must be a non-negative integer, got ${w}`);
      return w;
    };
    this.#extraWords = { input: words(o.extra?.inputWords, 'inputWords'), output: words(o.extra?.outputWords, 'outputWords') };
    device.makeCurrent();
    try {
      this.#loadModules();
      this.#allocate(weights);
    } catch (e) {
      const held = this.#bytes, n = this.#owned.length;
      this.#free();
      if (e instanceof Error) e.message += `\n(loading plan ${plan.name} on ${device.description}: freed the ${n} device buffers, ${fmtBytes(held)}, allocated so far)`;
      throw e;
    }
  }

  /** device bytes this executor holds (buffers and arena) */
  get deviceBytes(): number { return this.#bytes; }
  /** (bucket key) → captured graph count, for tests */
  get capturedGraphs(): number { return [...this.#prepared.values()].filter((p) => p.graph).length; }
  get closed(): boolean { return this.#closed; }

  #loadModules(): void {
    for (const [key, ptx] of Object.entries(this.plan.modules)) this.#modules.set(key, this.device.modules.load(ptx, `module "${key}" of plan ${this.plan.name}`));
    for (const k of this.plan.kernels) {
      const m = this.#modules.get(k.module);
      if (!m) throw new Error(`plan ${this.plan.name}: kernel ${k.name} names module "${k.module}", which the plan lacks`);
      this.#fns.set(k.name, m.function(k.name, k.sharedBytes));
    }
  }

  #alloc(bytes: number, label: string): CUdeviceptr {
    const p = this.device.memory.alloc(bytes, label);
    this.#owned.push(p);
    this.#bytes += Math.max(16, Math.ceil(bytes));
    return p;
  }

  #allocate(weights: ReadonlyMap<string, WeightData>): void {
    const max = this.plan.maxDims;
    const byName = new Map<string, CUdeviceptr>();
    const uploads: [CUdeviceptr, WeightData][] = [];
    this.#packInputs();
    this.#packOutputs();
    for (const b of this.plan.buffers) {
      if (b.kind === 'temp' || this.#packed.has(b.id) || this.#outPacked.has(b.id)) continue;
      if (b.kind === 'param') {
        const given = this.#bound.params?.get(b.name!);
        if (given !== undefined) { this.#addr.set(b.id, given); continue; }
        // one copy per weight name, however many buffers refer to it
        let p = byName.get(b.name!);
        if (p === undefined) {
          const t = weights.get(b.name!)!;
          p = this.#alloc(weightByteLength(t), `weight "${b.name}" (${b.dtype}[${t.shape.join(',')}])`);
          byName.set(b.name!, p);
          uploads.push([p, t]);
        }
        this.#addr.set(b.id, p);
        continue;
      }
      if (b.kind === 'state') {
        if (b.shape.some((d) => typeof d !== 'number')) throw new Error(`plan ${this.plan.name}: state buffer "${b.name}" has a symbolic shape [${b.shape.join(', ')}]`);
        const bytes = bufferBytes(b, {});
        const p = this.#alloc(bytes, `state "${b.name}" (${b.dtype}[${b.shape.join(',')}])`);
        this.#addr.set(b.id, p);
        this.device.memory.memset(p, 0, bytes);
        continue;
      }
      const given = b.name !== undefined ? this.#bound.io?.get(b.name) : undefined;
      if (given !== undefined) { this.#addr.set(b.id, given); continue; }
      const bytes = bufferBytes(b, max);
      this.#addr.set(b.id, this.#alloc(bytes, `${b.kind} "${b.name ?? b.id}" at maxDims`));
      this.#pinned.set(b.id, this.device.memory.allocPinned(bytes));
    }
    if (this.plan.arenaBytes > 0) {
      const arena = this.#alloc(this.plan.arenaBytes, `the temporaries arena of plan ${this.plan.name}`);
      for (const b of this.plan.buffers) {
        if (b.kind !== 'temp') continue;
        if (b.offset === undefined) throw new Error(`plan ${this.plan.name}: temp buffer ${b.id} has no arena offset`);
        if (b.offset + bufferBytes(b, max) > this.plan.arenaBytes) throw new Error(`plan ${this.plan.name}: temp ${b.id} overruns the arena`);
        this.#addr.set(b.id, arena + BigInt(b.offset));
      }
    } else if (this.plan.buffers.some((b) => b.kind === 'temp')) {
      throw new Error(`plan ${this.plan.name}: temp buffers but arenaBytes is 0`);
    }
    // streamed weights (read from a checkpoint on demand) pass through two pinned chunks, never held whole
    uploadWeights(this.device, uploads);
  }

  /** One device block and one pinned block for the staged inputs, at 256-byte aligned offsets (#packed). */
  #packInputs(): void {
    const outs = new Set(this.plan.outputs.map((o) => o.buffer));
    const ids = [...new Set(this.plan.inputs)].filter((id) => {
      const b = bufferById(this.plan, id);
      return b.kind === 'input' && !outs.has(id) && !(b.name !== undefined && this.#bound.io?.has(b.name));
    });
    const entries = ids.map((id): [string, number] => [id, bufferBytes(bufferById(this.plan, id), this.plan.maxDims)]);
    if (this.#extraWords.input > 0) entries.push([EXTRA_IN, 4 * this.#extraWords.input]);
    const block = this.#packBlock(entries, 'staged inputs', '\0inputs');
    if (!block) return;
    this.#inBlock = block.block;
    for (const { id, view, offset } of block.slots) this.#packed.set(id, { view, offset });
  }

  /**
   * One device block and one pinned block for the outputs, smallest first, so outputs a run wants back
   * together (a target step's next tokens and hidden rows) are one copy (#copyOutputs).
   */
  #packOutputs(): void {
    const ins = new Set(this.plan.inputs);
    const ids = [...new Set(this.plan.outputs.map((o) => o.buffer))].filter((id) => {
      const b = bufferById(this.plan, id);
      return b.kind === 'output' && !ins.has(id) && !(b.name !== undefined && this.#bound.io?.has(b.name));
    });
    const size = (id: string): number => bufferBytes(bufferById(this.plan, id), this.plan.maxDims);
    const entries = ids.sort((a, b) => size(a) - size(b)).map((id): [string, number] => [id, size(id)]);
    // the extra words first: beside the smallest outputs (a target step's next tokens), so they come back in the same copy
    if (this.#extraWords.output > 0) entries.unshift([EXTRA_OUT, 4 * this.#extraWords.output]);
    const block = this.#packBlock(entries, 'outputs', '\0outputs');
    if (!block) return;
    this.#outBlock = block.block;
    block.slots.forEach(({ id, view, offset }, index) => this.#outPacked.set(id, { view, offset, index }));
  }

  /**
   * Slots `entries` ([id, bytes]: a plan buffer at maxDims or an extra slot; two or more, else null) laid
   * out in order at 256-byte aligned offsets in one device allocation and one pinned block (registered under
   * `pinnedKey`).
   */
  #packBlock(entries: readonly [string, number][], what: string, pinnedKey: string): { block: { dev: CUdeviceptr; pinned: PinnedBuffer }; slots: { id: string; view: Uint8Array; offset: number }[] } | null {
    // a lone plan buffer keeps its own allocation; an extra slot always gets a block
    if (entries.length === 0 || (entries.length === 1 && entries[0][0] !== EXTRA_IN && entries[0][0] !== EXTRA_OUT)) return null;
    const at: [string, number, number][] = [];
    let total = 0;
    for (const [id, bytes] of entries) {
      const off = Math.ceil(total / 256) * 256;
      at.push([id, off, bytes]);
      total = off + bytes;
    }
    const dev = this.#alloc(total, `the ${entries.length} ${what} of plan ${this.plan.name} at maxDims`);
    const pinned = this.device.memory.allocPinned(total);
    this.#pinned.set(pinnedKey, pinned);
    const slots = at.map(([id, offset, bytes]) => {
      this.#addr.set(id, dev + BigInt(offset));
      return { id, view: new Uint8Array(pinned.view, offset, bytes), offset };
    });
    return { block: { dev, pinned }, slots };
  }

  /** Output copies for a run: one per run of adjacent packed outputs it wants (and the extra words), one per other output. */
  #copyOutputs(wanted: ExecutionPlan['outputs'], run: Record<string, number>, extraWords: number): void {
    const packed: { offset: number; index: number; bytes: number }[] = [];
    if (extraWords > 0) { const p = this.#outPacked.get(EXTRA_OUT)!; packed.push({ offset: p.offset, index: p.index, bytes: 4 * extraWords }); }
    for (const out of wanted) {
      const b = bufferById(this.plan, out.buffer);
      const p = this.#outPacked.get(b.id);
      if (p) { packed.push({ offset: p.offset, index: p.index, bytes: bufferBytes(b, run) }); continue; }
      this.device.cu('cuMemcpyDtoHAsync_v2', this.#pinned.get(b.id)!.ptr, this.address(b.id), bufferBytes(b, run), this.device.stream);
    }
    if (!packed.length) return;
    packed.sort((a, b) => a.index - b.index);
    const { dev, pinned } = this.#outBlock!;
    let start = packed[0].offset, end = start + packed[0].bytes;
    const flush = (): void => { this.device.cu('cuMemcpyDtoHAsync_v2', pinned.ptr + BigInt(start), dev + BigInt(start), end - start, this.device.stream); };
    for (let i = 1; i < packed.length; i++) {
      const q = packed[i];
      // next in the block: no packed output this run does not want lies between them (the gap is padding or unused rows)
      if (q.index === packed[i - 1].index + 1) { end = q.offset + q.bytes; continue; }
      flush();
      start = q.offset; end = q.offset + q.bytes;
    }
    flush();
  }

  /** The device address of the extra input or output slot (ExecutorOptions.extra). */
  extraAddress(which: 'input' | 'output'): CUdeviceptr {
    if (this.#extraWords[which] === 0) throw new Error(`plan ${this.plan.name}: no extra ${which} words (ExecutorOptions.extra)`);
    return this.address(which === 'input' ? EXTRA_IN : EXTRA_OUT);
  }

  /** The device address of a named input's buffer (staged inputs are copied there before the launches). */
  inputAddress(name: string): CUdeviceptr {
    const id = this.#inputId(name);
    if (id === undefined) throw new Error(`plan ${this.plan.name}: no input "${name}" (inputs: ${this.plan.inputs.map((x) => bufferById(this.plan, x).name ?? x).join(', ')})`);
    return this.address(id);
  }

  /** The buffer id of the plan input named `name` (or with that id when unnamed). */
  #inputId(name: string): string | undefined {
    return this.plan.inputs.find((x) => (bufferById(this.plan, x).name ?? x) === name);
  }

  /** The device address of a buffer (tests poke at buffers directly). */
  address(bufferId: string): CUdeviceptr {
    const a = this.#addr.get(bufferId);
    if (a === undefined) throw new Error(`plan ${this.plan.name}: no buffer "${bufferId}"`);
    return a;
  }

  /** The state buffer of a donated input, by its input or output name. */
  #state(name: string): { id: string; dtype: HostTensor['dtype']; shape: number[]; bytes: number } {
    const st = (this.plan.state ?? []).find((x) => x.input === name || x.output === name);
    if (!st) throw new Error(`plan ${this.plan.name}: no state named "${name}" (state: ${(this.plan.state ?? []).map((x) => x.input).join(', ') || 'none'})`);
    const b = bufferById(this.plan, st.buffer);
    const shape = b.shape as number[];
    return { id: b.id, dtype: b.dtype, shape, bytes: bufferBytes(b, {}) };
  }

  /** State names (the donated inputs), in plan order. */
  get stateNames(): string[] { return (this.plan.state ?? []).map((x) => x.input); }

  /** A copy of a state buffer (e.g. a layer's KV cache) after every enqueued run. */
  readState(name: string): HostTensor {
    this.#assertOpen();
    const st = this.#state(name);
    const t = hostTensor(st.dtype, st.shape, allocData(st.dtype, st.shape.reduce((a, x) => a * x, 1)));
    this.device.makeCurrent();
    this.device.memory.download(t.data, this.address(st.id), st.bytes);
    return t;
  }

  /** Overwrites a state buffer with `t` (same dtype and shape). */
  writeState(name: string, t: HostTensor): void {
    this.#assertOpen();
    const st = this.#state(name);
    if (t.dtype !== st.dtype || t.shape.length !== st.shape.length || t.shape.some((d, i) => d !== st.shape[i])) {
      throw new RangeError(`writeState "${name}": expected ${st.dtype}[${st.shape.join(',')}], got ${t.dtype}[${t.shape.join(',')}]`);
    }
    if (t.data.byteLength !== st.bytes) throw new RangeError(`writeState "${name}": ${st.bytes} bytes needed, the tensor holds ${t.data.byteLength}`);
    this.device.makeCurrent();
    this.device.memory.upload(this.address(st.id), t.data, st.bytes);
  }

  /** Zero-fills every state buffer (all of them, or the named ones) on the stream. */
  zeroState(names: readonly string[] = this.stateNames): void {
    this.#assertOpen();
    this.device.makeCurrent();
    for (const n of names) { const st = this.#state(n); this.device.memory.memset(this.address(st.id), 0, st.bytes); }
  }

  /** Fills every output buffer (and the arena) with `byte` on the stream, so unwritten elements show. */
  poisonOutputs(byte = 0xff): void {
    this.#assertOpen();
    const max = this.plan.maxDims;
    for (const o of this.plan.outputs) this.device.memory.memset(this.address(o.buffer), byte, bufferBytes(bufferById(this.plan, o.buffer), max));
    if (this.plan.arenaBytes > 0) {
      const t = this.plan.buffers.find((b) => b.kind === 'temp');
      if (t) this.device.memory.memset(this.address(t.id) - BigInt(t.offset ?? 0), byte, this.plan.arenaBytes);
    }
  }

  /** The dims the kernels run with: the caller's, with the batch dim rounded up to its bucket. */
  runDims(dims: Readonly<Record<string, number>>): Record<string, number> {
    const run = { ...dims };
    if (this.batchDim && dims[this.batchDim] !== undefined) run[this.batchDim] = bucketFor(dims[this.batchDim], this.plan.maxDims[this.batchDim]);
    return run;
  }

  #argValue(a: LaunchArg, dims: Readonly<Record<string, number>>, k: PlanKernel, i: number): ArgValue {
    const t = k.params[i]?.type;
    const where = `kernel ${k.name} argument ${i} (${k.params[i]?.name ?? '?'}: ${t})`;
    if ('buffer' in a) {
      if (t !== 'u64') throw new Error(`plan ${this.plan.name}: ${where} gets buffer ${a.buffer}, which needs a u64 parameter`);
      return this.address(a.buffer);
    }
    if ('dim' in a) {
      const v = dims[a.dim] ?? this.plan.maxDims[a.dim];
      if (v === undefined) throw new Error(`plan ${this.plan.name}: ${where} names dim "${a.dim}", which is not bound`);
      if (t === 'f32') throw new Error(`plan ${this.plan.name}: ${where} gets an integer dim`);
      return v;
    }
    if ('u32' in a) { if (t === 'f32') throw new Error(`plan ${this.plan.name}: ${where} gets a u32`); return a.u32; }
    if (t !== 'f32') throw new Error(`plan ${this.plan.name}: ${where} gets an f32`);
    return a.f32;
  }

  #prepare(run: Readonly<Record<string, number>>): Prepared {
    const key = Object.keys(run).sort().map((k) => `${k}=${run[k]}`).join(',');
    const hit = this.#prepared.get(key);
    if (hit) return hit;
    const env = new Map(Object.entries(run));
    const kernels = new Map(this.plan.kernels.map((k) => [k.name, k]));
    const block = new ArgBlock(ArgBlock.bytesFor(this.plan.launches.map((l) => kernels.get(l.kernel)?.params.map((p) => p.type) ?? [])));
    const steps = this.plan.launches.flatMap((l, li) => {
      const k = kernels.get(l.kernel);
      if (!k) throw new Error(`plan ${this.plan.name}: launch ${li} names unknown kernel ${l.kernel}`);
      if (l.args.length !== k.params.length) throw new Error(`plan ${this.plan.name}: launch ${li} passes ${l.args.length} arguments to ${k.name}, which takes ${k.params.length}`);
      const grid = l.grid.map((g) => evalGrid(g, env)) as [number, number, number];
      if (grid.some((g) => g === 0)) return []; // nothing to do at this size
      const args = block.pack(k.params.map((p) => p.type), l.args.map((a, i) => this.#argValue(a, run, k, i)));
      return [{ fn: this.#fns.get(k.name)!, dims: { grid, block: k.block, sharedBytes: k.sharedBytes }, args, what: `launch ${li} (${k.name})` }];
    });
    const p: Prepared = { block, steps, graph: null };
    this.#prepared.set(key, p);
    return p;
  }

  #launchAll(p: Prepared): void {
    for (const s of p.steps) launchKernel(this.device, s.fn, s.dims, s.args, s.what);
  }

  /** Enqueues the plan for `run` dims: a graph replay (captured on first use, after one eager warm-up) or eager launches. */
  #enqueue(run: Readonly<Record<string, number>>, graph: boolean): void {
    const p = this.#prepare(run);
    if (!graph) { this.#launchAll(p); return; }
    if (!p.graph) {
      // warm-up first (as ArcticInference does): a faulty launch fails here with its own name, not inside capture
      this.#launchAll(p);
      p.graph = CudaGraph.capture(this.device, () => this.#launchAll(p));
    }
    p.graph.launch();
  }

  /**
   * Enqueues the plan's launches for `dims` (batch dim bucketed) on the device's stream without any
   * input/output copies: for benchmarks, which time replays on inputs already on the device.
   */
  enqueue(dims: Readonly<Record<string, number>>, o: RunOptions = {}): void {
    this.#assertOpen();
    this.#enqueue(this.runDims(dims), o.graph ?? this.#graphs);
  }

  /**
   * Times every launch of the plan for `dims` (eager, an event around each; median of `reps`) on the
   * buffers as they are: run() once first so inputs hold real data. Kernels that update state in place
   * (a KV write) run `reps + 1` more times.
   */
  profile(dims: Readonly<Record<string, number>>, reps = 20): LaunchTiming[] {
    this.#assertOpen();
    const p = this.#prepare(this.runDims(dims));
    const kernels = new Map(this.plan.kernels.map((k) => [k.name, k]));
    const idx = p.steps.map((s) => Number(/^launch (\d+)/.exec(s.what)![1]));
    return profileSteps(this.device, p.steps.map((s, i) => ({
      index: idx[i], kernel: this.plan.launches[idx[i]].kernel, grid: s.dims.grid, block: kernels.get(this.plan.launches[idx[i]].kernel)!.block,
      launch: () => launchKernel(this.device, s.fn, s.dims, s.args, s.what),
    })), reps);
  }

  /** Stages inputs and enqueues copies, launches and output copies; returns what finish() needs. */
  #start(inputs: Readonly<Record<string, RunInput>>, o: RunOptions): { dims: Record<string, number>; run: Record<string, number> } {
    this.#assertOpen();
    this.#wanted(o);
    if (this.#bound.io?.size) throw new Error(`plan ${this.plan.name}: run() stages inputs through its own buffers, but its inputs/outputs ${[...this.#bound.io.keys()].join(', ')} are bound to the caller's device buffers; use enqueue()`);
    this.device.makeCurrent();
    const dims = bindInputs(this.plan, inputs);
    const run = this.runDims(dims);
    // device-pointer inputs are copied after the packed block, which spans their slots too
    const deviceCopies: (() => void)[] = [];
    let packedStart = Infinity, packedEnd = 0;
    for (const id of this.plan.inputs) {
      const b = bufferById(this.plan, id);
      const t = inputs[b.name ?? id];
      if ('gather' in t) {
        const padded = bufferBytes(b, run);
        checkSpans(t.gather, padded, `input "${b.name ?? id}"`);
        // zero only what the spans leave uncovered past their contiguous prefix (at batch 1 of bucket 1: nothing)
        const covered = coveredPrefix(t.gather);
        deviceCopies.push(() => {
          if (covered < padded) this.device.memory.memset(this.address(id) + BigInt(covered), 0, padded - covered);
          for (const g of t.gather) this.device.cu('cuMemcpyDtoDAsync_v2', this.address(id) + BigInt(g.offset), g.src, g.bytes, this.device.stream);
        });
        continue;
      }
      if ('ptr' in t) {
        // only the leading dim may be padded, so the caller's rows are a prefix of the buffer
        const full = resolveDims(b.shape, run, b.id);
        if (full.some((d, i) => i > 0 && d !== t.shape[i])) throw new RangeError(`input "${b.name ?? id}": a device pointer input needs every dim but the first static, got ${b.dtype}[${b.shape.join(',')}]`);
        const bytes = t.shape.reduce((a, d) => a * d, 1) * itemSize(b.dtype);
        const padded = bufferBytes(b, run);
        deviceCopies.push(() => {
          this.device.cu('cuMemcpyDtoDAsync_v2', this.address(id), t.ptr, bytes, this.device.stream);
          if (padded > bytes) this.device.memory.memset(this.address(id) + BigInt(bytes), 0, padded - bytes);
        });
        continue;
      }
      const packed = this.#packed.get(id);
      const stage = packed ? packed.view : new Uint8Array(this.#pinned.get(id)!.view);
      const bytes = bufferBytes(b, run);
      const shape = resolveDims(b.shape, run, b.id);
      if (bytes !== t.data.byteLength) stage.fill(0, 0, bytes);
      copyBlock(bytesOf(t), t.shape, stage, shape, itemSize(b.dtype));
      if (packed) { packedStart = Math.min(packedStart, packed.offset); packedEnd = Math.max(packedEnd, packed.offset + bytes); }
      else this.device.cu('cuMemcpyHtoDAsync_v2', this.address(id), this.#pinned.get(id)!.ptr, bytes, this.device.stream);
    }
    if (o.extraInput) {
      const n = this.#extraWords.input;
      if (o.extraInput.length > n) throw new RangeError(`plan ${this.plan.name}: extraInput has ${o.extraInput.length} words, the executor reserved ${n} (ExecutorOptions.extra.inputWords)`);
      const slot = this.#packed.get(EXTRA_IN)!;
      slot.view.set(new Uint8Array(o.extraInput.buffer, o.extraInput.byteOffset, o.extraInput.byteLength));
      packedStart = Math.min(packedStart, slot.offset); packedEnd = Math.max(packedEnd, slot.offset + o.extraInput.byteLength);
    }
    if (o.extraOutput !== undefined && !(Number.isInteger(o.extraOutput) && o.extraOutput >= 0 && o.extraOutput <= this.#extraWords.output)) {
      throw new RangeError(`plan ${this.plan.name}: extraOutput ${o.extraOutput} words, the executor reserved ${this.#extraWords.output} (ExecutorOptions.extra.outputWords)`);
    }
    // one copy for every staged input (the bytes between them belong to no live row and are never read)
    const patches = this.#patches(inputs, run, o);
    // from the first staged slot: a slot before it belongs to a gathered or device input (copied on the device)
    if (packedEnd > 0) this.device.cu('cuMemcpyHtoDAsync_v2', this.#inBlock!.dev + BigInt(packedStart), this.#inBlock!.pinned.ptr + BigInt(packedStart), packedEnd - packedStart, this.device.stream);
    for (const c of deviceCopies) c();
    for (const [id, spans] of patches) for (const g of spans) this.device.cu('cuMemcpyDtoDAsync_v2', this.address(id) + BigInt(g.offset), g.src, g.bytes, this.device.stream);
    if (o.launch) o.launch(run);
    else this.#enqueue(run, o.graph ?? this.#graphs);
    this.#copyOutputs(this.#wanted(o), run, o.extraOutput ?? 0);
    return { dims, run };
  }

  /** RunOptions.patches by buffer id, checked: each names a host-staged input and stays inside its rows. */
  #patches(inputs: Readonly<Record<string, RunInput>>, run: Record<string, number>, o: RunOptions): [string, readonly DeviceSpan[]][] {
    if (!o.patches) return [];
    return Object.entries(o.patches).map(([name, spans]) => {
      const id = this.#inputId(name);
      const t = inputs[name];
      if (id === undefined || t === undefined) throw new Error(`plan ${this.plan.name}: a patch names "${name}", which is not an input`);
      if (!('data' in t)) throw new Error(`plan ${this.plan.name}: a patch of input "${name}" needs it staged from the host`);
      checkSpans(spans, t.data.byteLength, `patch of input "${name}"`);
      return [id, spans];
    });
  }

  #wanted(o: RunOptions): ExecutionPlan['outputs'] {
    if (!o.outputs) return this.plan.outputs;
    for (const n of o.outputs) this.#output(n);
    return this.plan.outputs.filter((x) => o.outputs!.includes(x.name));
  }

  /** The plan output named `name`; an error listing the outputs when there is none. */
  #output(name: string): ExecutionPlan['outputs'][number] {
    const out = this.plan.outputs.find((x) => x.name === name);
    if (!out) throw new Error(`plan ${this.plan.name}: no output "${name}" (outputs: ${this.plan.outputs.map((x) => x.name).join(', ')})`);
    return out;
  }

  #finish(dims: Record<string, number>, run: Record<string, number>, o: RunOptions): Record<string, HostTensor> {
    const result: Record<string, HostTensor> = {};
    for (const out of this.#wanted(o)) {
      const b = bufferById(this.plan, out.buffer);
      const shape = resolveDims(b.shape, dims, b.id);
      const t = hostTensor(b.dtype, shape, allocData(b.dtype, shape.reduce((a, x) => a * x, 1)));
      const src = this.#outPacked.get(b.id)?.view ?? new Uint8Array(this.#pinned.get(b.id)!.view);
      copyBlock(src, resolveDims(b.shape, run, b.id), bytesOf(t), shape, itemSize(b.dtype), true);
      result[out.name] = t;
    }
    if (o.extraOutput) {
      const v = this.#outPacked.get(EXTRA_OUT)!.view;
      result[EXTRA_OUTPUT] = hostTensor('i32', [o.extraOutput], new Int32Array(v.buffer.slice(v.byteOffset, v.byteOffset + 4 * o.extraOutput)));
    }
    return result;
  }

  /** Runs the plan on `inputs` (named as in the program) and waits on this thread. */
  run(inputs: Readonly<Record<string, RunInput>>, o: RunOptions = {}): Record<string, HostTensor> {
    const pending = this.begin(inputs, o);
    let failed: { error: unknown } | null = null;
    if (o.whileRunning) try { o.whileRunning(); } catch (error) { failed = { error }; }
    try {
      this.device.synchronize();
    } catch (e) {
      pending.discard();
      throw e;
    }
    if (failed) { pending.discard(); throw failed.error; }
    return pending.collect();
  }

  /**
   * Enqueues a run (staging copy, device copies and patches, launches, output copies) without waiting: the
   * caller synchronizes the device's stream (once, for every plan it enqueued) and then collects. One
   * begin() at a time per executor (its staging buffers are shared).
   */
  begin(inputs: Readonly<Record<string, RunInput>>, o: RunOptions = {}): PendingRun {
    if (this.#busy) throw new Error(`plan ${this.plan.name}: run() while a runAsync() is in flight; await it first`);
    if (this.#pending) throw new Error(`plan ${this.plan.name}: a run is enqueued and not collected yet`);
    const { dims, run } = this.#start(inputs, o);
    this.#pending = true;
    let open = true;
    const close = (): void => { if (!open) throw new Error(`plan ${this.plan.name}: this run was already collected or discarded`); open = false; this.#pending = false; };
    return {
      collect: () => { close(); return this.#finish(dims, run, o); },
      discard: () => { if (open) close(); },
    };
  }

  /** The device address of a named output's buffer (laid out at the run's padded dims, row-major). */
  outputAddress(name: string): CUdeviceptr {
    return this.address(this.#output(name).buffer);
  }

  /** Like run(), but waits for the GPU on a worker thread; calls are serialized (the staging buffers are shared). */
  runAsync(inputs: Readonly<Record<string, RunInput>>, o: RunOptions = {}): Promise<Record<string, HostTensor>> {
    const next = this.#queue.then(async () => {
      if (this.#pending) throw new Error(`plan ${this.plan.name}: a run is enqueued and not collected yet`);
      this.#busy = true;
      try {
        const { dims, run } = this.#start(inputs, o);
        await this.device.synchronizeAsync();
        return this.#finish(dims, run, o);
      } finally {
        this.#busy = false;
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`plan ${this.plan.name}: executor used after close()`);
    this.device.health.assertUsable(`running plan ${this.plan.name}`);
  }

  #free(): void {
    for (const p of this.#prepared.values()) p.graph?.destroy();
    this.#prepared.clear();
    for (const p of this.#owned.splice(0)) this.device.memory.free(p);
    this.#bytes = 0;
    for (const b of this.#pinned.values()) this.device.memory.freePinned(b);
    this.#pinned.clear();
    this.#packed.clear();
    this.#inBlock = null;
    this.#outPacked.clear();
    this.#outBlock = null;
    for (const m of this.#modules.values()) this.device.modules.release(m);
    this.#modules.clear();
  }

  /** Frees graphs, buffers, staging and modules. Idempotent; after a kernel fault it only drops handles. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#free();
  }
}

/** The bytes [0, n) that spans cover without a gap (0 when none starts at 0); the rest of a gathered input is zeroed. */
export function coveredPrefix(spans: readonly { offset: number; bytes: number }[]): number {
  const sorted = [...spans].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const g of sorted) {
    if (g.offset > end) break;
    end = Math.max(end, g.offset + g.bytes);
  }
  return end;
}
