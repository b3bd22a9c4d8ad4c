// The library entry: load a checkpoint, build its program (built-in, or the caller's DSL program), pick a
// device, propose draft tokens.
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import type { DrafterFactory, DrafterOptions, Program } from '../dsl/index.ts';
import type { Backend, DeviceDrafting, DeviceKind } from './backend.ts';
import type { LoadProgress, SpeculatorConfig } from './checkpoint/index.ts';
import { loadCheckpoint } from './checkpoint/index.ts';
import { createCpuBackend } from './cpu/backend.ts';
import { drafterOptionsFromDir } from './drafter-options.ts';
import { fuseGateWeights } from './gate-weights.ts';
import { loadProgramWeights } from './program-weights.ts';
import type { QuantizeMode } from './quantize-program.ts';
import { describeQuantization, QUANTIZE_MODES, quantizeGraph } from './quantize-program.ts';
import { programFor } from './speculator-program.ts';
import type { ClampedToken, ProposeRequest } from './validate-inputs.ts';
import { requestBatch, validateProposeRequest } from './validate-inputs.ts';
import { selectDevice } from './select-device.ts';
import { readConfig } from './checkpoint/open-weights.ts';
import { shardVocabParallel } from '../compiler/passes/tensor-parallel.ts';
import { bf16Activations } from '../compiler/passes/bf16-activations.ts';
import type { ActivationMode } from '../models/llama.ts';
import { checkActivationMode } from '../models/llama.ts';
import type { RankFault } from './tp/protocol.ts';

/** Options of {@link loadSpeculator}. */
export interface LoadSpeculatorOptions {
  /** checkpoint folder: config.json + model.safetensors | model.safetensors.index.json | pytorch_model.bin */
  model: string;
  /**
   * Run your own drafter instead of the built-in speculator the config names: a DSL file (FILE.ts,
   * type-checked, then imported and traced), a `Program`, or a factory called with the
   * {@link DrafterOptions} read from `model`'s config.json. Its params are loaded from `model` by name.
   * The program takes `hidden: f32[B, H]`, `tokens: i32[B]` and returns `draft: i32[B, n]`.
   */
  program?: string | Program | DrafterFactory;
  /** with a `program` file: which export (default: the first Program or factory it exports) */
  export?: string;
  /** 'auto' (default) uses CUDA when libcuda loads and a device exists, else the CPU backend */
  device?: DeviceKind | 'auto';
  /** the largest batch one propose call may carry, on every device (sizes GPU buffers; default 64) */
  maxBatch?: number;
  /** clamp token ids into [0, V−1] as ArcticInference does, instead of rejecting them */
  clampTokens?: boolean;
  /** with clampTokens: told, per propose call, which tokens were clamped (not called when none were) */
  onClamp?: (clamped: readonly ClampedToken[]) => void;
  /** progress of weight loading; a terminal also gets a progress line for big files unless quiet */
  onProgress?: (p: LoadProgress) => void;
  /** no progress line on stderr */
  quiet?: boolean;
  /**
   * 'fp8-head': the LM head in fp8 e4m3 with a per-row f32 scale (half the bytes of the largest weight);
   * 'fp8-all': every linear weight. Default 'none'. The same on the CPU and CUDA backends.
   */
  quantize?: QuantizeMode;
  /**
   * 'bf16': every linear's input is rounded to bf16 first (the bf16-activations pass), as ArcticInference's
   * bf16 speculators compute; the tensor-core head then multiplies one bf16 term per activation instead of
   * three (faster from batch 5). Default 'f32' (exact against fp32 references). The same on both backends.
   */
  activations?: ActivationMode;
  /**
   * Tensor-parallel drafting over N ranks (ArcticInference's layout: the LM head split by vocabulary,
   * each rank's local top-1 packed in 8 bytes per row, one all-gather per step, projections and norms
   * replicated), one worker process per rank, supervised by the library. Built-in Arctic checkpoints.
   * device 'cuda': rank r on GPU r, its stages and NCCL all-gathers in one CUDA graph per batch bucket
   * (N GPUs needed); 'cpu' or 'auto': the CPU backend with an emulated all-gather. A rank that dies, an
   * NCCL error or a collective that times out fails the proposal with one TensorParallelError naming the
   * rank, aborts the communicators and ends every rank.
   */
  tensorParallel?: number;
  /** with tensorParallel: the longest wait for any collective or a rank's start-up (default 30000 ms) */
  collectiveTimeoutMs?: number;
  /** @internal test-only fault injection into one rank */
  tensorParallelFault?: RankFault;
}

/** A loaded speculator: propose draft tokens for batches of requests. */
export interface Speculator {
  /** the Arctic config of the checkpoint; null for a `program` whose config.json is a drafter config */
  readonly config: SpeculatorConfig | null;
  /** the traced program that runs (after quantization) */
  readonly program: Program;
  /** H: values per row of `hidden` */
  readonly hiddenSize: number;
  /** V: tokens must lie in [0, V) */
  readonly vocabSize: number;
  /** draft tokens per proposal (n_predict) */
  readonly numSpeculativeTokens: number;
  /** the largest batch of one propose call */
  readonly maxBatch: number;
  readonly device: DeviceKind;
  /** the device in words, and why it was chosen when device was 'auto' */
  readonly deviceDescription: string;
  /**
   * B×k draft tokens (row-major) for B requests. `hidden` and `tokens` may be host arrays or, on CUDA,
   * device pointers (bigint; then give `batch`): their extents are checked against their allocations and
   * device tokens are copied back to check their range. Rejects (RangeError/TypeError) on a bad request.
   */
  propose(req: ProposeRequest): Promise<Int32Array>;
  /**
   * CUDA only: the draft enqueued on the device's stream without a wait (hidden rows gathered on the device),
   * for a verify pass chained behind it (the engine's one-sync Arctic step). Tokens are checked as propose
   * checks them; device hidden rows are not read by the host, so not checked for finiteness.
   */
  readonly deviceDrafting?: DeviceDrafting;
  /** frees the device memory and graphs; idempotent */
  close(): void;
}

/** The program interface propose needs: hidden f32[B,H], tokens i32[B] → draft i32[B,n]. */
function programInterface(p: Program): { hiddenSize: number; nPredict: number } {
  const g = p.graph;
  const bad = (why: string) => new TypeError(`program ${g.name}: ${why} (a drafter takes hidden: f32[B, H] and tokens: i32[B], and outputs draft: i32[B, n])`);
  const hidden = g.inputs.find((n) => n.argOf<string>('name') === 'hidden');
  const tokens = g.inputs.find((n) => n.argOf<string>('name') === 'tokens');
  const draft = g.outputs.find((o) => o.name === 'draft')?.node;
  if (!hidden || hidden.dtype !== 'f32' || hidden.shape.length !== 2 || hidden.shape[0] !== 'B' || typeof hidden.shape[1] !== 'number') throw bad('needs input hidden: f32[B, H]');
  if (!tokens || tokens.dtype !== 'i32' || tokens.shape.length !== 1 || tokens.shape[0] !== 'B') throw bad('needs input tokens: i32[B]');
  if (!draft || draft.dtype !== 'i32' || draft.shape.length !== 2 || draft.shape[0] !== 'B' || typeof draft.shape[1] !== 'number') throw bad('needs output draft: i32[B, n]');
  return { hiddenSize: hidden.shape[1] as number, nPredict: draft.shape[1] as number };
}

/** The program and its weights: the built-in speculator of an Arctic checkpoint, or the caller's program. */
async function programAndWeights(o: LoadSpeculatorOptions): Promise<{ program: Program; weights: Map<string, HostTensor>; config: SpeculatorConfig | null; vocabSize: number }> {
  if (o.program === undefined) {
    const ckpt = loadCheckpoint(o.model, { onProgress: o.onProgress, quiet: o.quiet });
    return { program: programFor(ckpt.config, ckpt.weights), weights: ckpt.weights, config: ckpt.config, vocabSize: ckpt.config.vocabSize };
  }
  const options = drafterOptionsFromDir(o.model);
  let program: Program;
  // the DSL front end (ts-morph: ~0.35 s and ~80 MB to load) only for a user's DSL file
  if (typeof o.program === 'string') program = (await (await import('../compiler/frontend/user-file.ts')).traceUserFile(o.program, o.export, options)).program;
  else if (typeof o.program === 'function') program = o.program(options);
  else program = o.program;
  if (!program || typeof program !== 'object' || !('graph' in program)) throw new TypeError('loadSpeculator: program must be a DSL file, a Program, or a function returning one');
  const weights = loadProgramWeights(o.model, program.graph, { onProgress: o.onProgress, quiet: o.quiet });
  return { program, weights, config: options.arctic, vocabSize: options.vocabSize };
}

/**
 * Loads a speculator checkpoint and prepares it on a device.
 *
 * @example
 * ```ts
 * import { loadSpeculator } from 'arcticc';
 * const spec = await loadSpeculator({ model: 'path/to/Arctic-LSTM-Speculator', device: 'auto' });
 * const draft = await spec.propose({ hidden: new Float32Array(spec.hiddenSize), tokens: Int32Array.of(42) });
 * spec.close();
 * ```
 */
export async function loadSpeculator(o: LoadSpeculatorOptions): Promise<Speculator> {
  const maxBatch = o.maxBatch ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`loadSpeculator: maxBatch must be a positive integer, got ${o.maxBatch}`);
  if (o.tensorParallel !== undefined) return loadTensorParallel(o, maxBatch);
  const mode = o.quantize ?? 'none';
  if (!(QUANTIZE_MODES as readonly string[]).includes(mode)) throw new RangeError(`loadSpeculator: quantize must be one of ${QUANTIZE_MODES.join(', ')}, got ${JSON.stringify(o.quantize)}`);
  const activations = checkActivationMode('loadSpeculator', o.activations);
  const { program: traced, weights: loaded, config, vocabSize } = await programAndWeights(o);
  const { hiddenSize, nPredict } = programInterface(traced);
  // weights the gate-fusion pass fuses are built from its derivation (the separate copies are dropped);
  // the quantized map then replaces the checkpoint's: the unquantized copies of fp8 weights are dropped here
  const gates = fuseGateWeights(traced.graph, loaded);
  loaded.clear();
  const q = quantizeGraph(gates.graph, gates.weights, mode);
  const weights = q.weights;
  // the CPU backend runs this graph; the CUDA one compiles gates.graph with the same passes (compileSpeculator)
  const graph = activations === 'bf16' ? bf16Activations(q.graph) : q.graph;
  const program: Program = graph === traced.graph ? traced : { ...traced, graph };
  const choice = await selectDevice(o.device ?? 'auto');
  let backend: Backend;
  if (choice.device === 'cuda') {
    const { createCudaSpeculatorBackend } = await import('./cuda-speculator.ts');
    backend = await createCudaSpeculatorBackend(gates.graph, weights, maxBatch, mode, activations);
  } else {
    backend = createCpuBackend(program.graph, weights, hiddenSize);
  }
  const quant = [describeQuantization(mode, q.quantized), activations === 'bf16' ? 'bf16 activations' : ''].filter(Boolean).join(', ');
  const base = quant ? `${backend.description}, ${quant}` : backend.description;
  return speculatorOver(backend, {
    config, program, hiddenSize, vocabSize, nPredict, maxBatch, clampTokens: o.clampTokens, onClamp: o.onClamp,
    description: choice.reason ? `${base} (${choice.reason})` : base,
  });
}

/** loadSpeculator with `tensorParallel`: N supervised rank processes behind one Speculator. */
async function loadTensorParallel(o: LoadSpeculatorOptions, maxBatch: number): Promise<Speculator> {
  const n = o.tensorParallel!;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`loadSpeculator: tensorParallel must be a positive integer, got ${o.tensorParallel}`);
  if (o.program !== undefined) throw new TypeError('loadSpeculator: tensorParallel supports the built-in Arctic speculators only (no program)');
  if ((o.quantize ?? 'none') !== 'none') throw new TypeError(`loadSpeculator: tensorParallel does not combine with quantize ${JSON.stringify(o.quantize)} yet`);
  if ((o.activations ?? 'f32') !== 'f32') throw new TypeError(`loadSpeculator: tensorParallel does not combine with activations ${JSON.stringify(o.activations)} yet`);
  const device = o.device === 'cuda' ? 'cuda' : 'cpu';
  if (device === 'cuda') {
    // refuse before any process starts: one device per rank, and libnccl
    const { cudaAvailable } = await import('./cuda/backend.ts');
    const a = cudaAvailable({ ordinal: n - 1 });
    if (!a.ok) throw new Error(`loadSpeculator: tensorParallel ${n} on device "cuda" needs ${n} CUDA device${n > 1 ? 's' : ''} (one per rank): ${a.reason}`);
    const { loadNccl } = await import('./nccl/nccl.ts');
    loadNccl();
  }
  const { config } = readConfig(o.model);
  const base = programFor(config);
  const program: Program = { ...base, graph: shardVocabParallel(base.graph, n, 0).graph };
  const { createTensorParallelBackend } = await import('./tp/supervisor.ts');
  const backend = await createTensorParallelBackend({ model: o.model, ranks: n, collectiveTimeoutMs: o.collectiveTimeoutMs, fault: o.tensorParallelFault, device, maxBatch });
  const r = backend.ready;
  const spec = speculatorOver(backend, {
    config, program, hiddenSize: r.hiddenSize, vocabSize: r.vocabSize, nPredict: r.nPredict, maxBatch,
    clampTokens: o.clampTokens, onClamp: o.onClamp,
    description: o.device === 'auto' || o.device === undefined ? `${backend.description} (tensorParallel with device "auto" runs on the CPU backend; device "cuda" runs one GPU per rank)` : backend.description,
  });
  return Object.assign(spec, { workerPids: backend.pids, workersExited: backend.exited });
}

/** What {@link speculatorOver} needs besides the backend. */
export interface SpeculatorParts {
  config: SpeculatorConfig | null;
  program: Program;
  hiddenSize: number;
  vocabSize: number;
  nPredict: number;
  maxBatch: number;
  clampTokens?: boolean;
  onClamp?: (clamped: readonly ClampedToken[]) => void;
  description: string;
}

/**
 * The Speculator front end over a backend: request checks (batch, maxBatch on every device, host
 * lengths and values, device pointer extents), token clamping, then the backend. Exported for tests
 * that drive a backend over the fake CUDA driver.
 */
export function speculatorOver(backend: Backend, s: SpeculatorParts): Speculator {
  const { hiddenSize, vocabSize, maxBatch } = s;
  let closed = false;
  return {
    config: s.config, program: s.program, hiddenSize, vocabSize, maxBatch,
    numSpeculativeTokens: s.nPredict,
    device: backend.device,
    deviceDescription: s.description,
    async propose(req: ProposeRequest): Promise<Int32Array> {
      if (closed) throw new Error('propose: this speculator is closed');
      const batch = requestBatch(req, maxBatch);
      let hostTokens: Int32Array;
      if (typeof req.hidden === 'bigint' || typeof req.tokens === 'bigint') {
        const ptrs = backend.pointers;
        if (!ptrs) throw new TypeError(backend.device === 'cuda' ? 'propose: device pointers (bigint) are not taken by this speculator (tensorParallel: its ranks run in their own processes and CUDA contexts); pass host arrays' : `propose: device pointers (bigint) need the CUDA backend; this speculator runs on the ${backend.device.toUpperCase()}`);
        if (typeof req.hidden === 'bigint') ptrs.checkRange(req.hidden, batch * hiddenSize * 4, `hidden (B×H = ${batch}×${hiddenSize} f32)`);
        if (typeof req.tokens === 'bigint') {
          ptrs.checkRange(req.tokens, batch * 4, `tokens (B = ${batch} int32)`);
          hostTokens = ptrs.readI32(req.tokens, batch);
        } else hostTokens = req.tokens;
      } else hostTokens = req.tokens;
      const v = validateProposeRequest({ hidden: req.hidden, tokens: hostTokens }, { hiddenSize, vocabSize, clampTokens: s.clampTokens });
      if (v.clamped.length) s.onClamp?.(v.clamped);
      return backend.propose({ hidden: req.hidden, tokens: v.tokens, batch: v.batch });
    },
    ...(backend.deviceDrafting ? { deviceDrafting: checkedDrafting(backend.deviceDrafting, () => closed, s) } : {}),
    close() {
      if (closed) return;
      closed = true;
      backend.close();
    },
  };
}

/** A backend's DeviceDrafting behind the checks propose makes (closed, batch, host hidden, token range, clamping). */
function checkedDrafting(d: DeviceDrafting, isClosed: () => boolean, s: SpeculatorParts): DeviceDrafting {
  const maxBatch = Math.min(d.maxBatch, s.maxBatch);
  const port = d.port;
  return {
    chainKey: d.chainKey,
    maxBatch,
    ...(port ? {
      port: {
        executor: port.executor, draftOutput: port.draftOutput, batchFirst: port.batchFirst, hiddenSize: port.hiddenSize, nPredict: port.nPredict,
        maxBatch: Math.min(port.maxBatch, maxBatch),
        assertOpen() { if (isClosed()) throw new Error('the fused step: this speculator is closed'); port.assertOpen(); },
        get closed() { return isClosed() || port.closed; },
      },
    } : {}),
    enqueue(hidden, tokens) {
      if (isClosed()) throw new Error('enqueue: this speculator is closed');
      if (tokens.length < 1 || tokens.length > maxBatch) throw new RangeError(`enqueue: ${tokens.length} rows; one enqueue takes 1…${maxBatch}`);
      const v = validateProposeRequest({ hidden: hidden instanceof Float32Array ? hidden : 0n, tokens }, { hiddenSize: s.hiddenSize, vocabSize: s.vocabSize, clampTokens: s.clampTokens });
      if (v.clamped.length) s.onClamp?.(v.clamped);
      return d.enqueue(hidden, v.tokens);
    },
  };
}
