// The target-model library entry: load a Hugging Face Llama folder, build models/llama.ts for it, pick
// a device, and run batched forward passes over sequences that own KV-cache slots.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Program } from '../../dsl/index.ts';
import type { FloatDType } from '../../compiler/ir/dtype.ts';
import type { DeviceKind } from '../backend.ts';
import type { LoadProgress } from '../checkpoint/index.ts';
import type { LlamaConfig } from '../checkpoint/llama-config.ts';
import type { ActivationMode } from '../../models/llama.ts';
import { checkActivationMode } from '../../models/llama.ts';
import type { OpenedLlama } from '../checkpoint/load-llama.ts';
import { loadLlamaCheckpoint, openLlamaCheckpoint, readLlamaConfig } from '../checkpoint/load-llama.ts';
import type { WeightData } from '../weight-data.ts';
import { weightByteLength } from '../weight-data.ts';
import { selectDevice } from '../select-device.ts';
import type { TargetBackend, TargetStepOutputs } from './backend.ts';
import { createCpuTargetBackend } from './cpu-backend.ts';
import { KvSlots, TargetError } from './kv-slots.ts';
import { addRopeTables, targetProgram } from './target-program.ts';
import { kvSlotsFor } from './kv-sizing.ts';
import type { TargetQuantizeMode } from './quantize-target.ts';
import type { DeviceSpan } from '../cuda/device-spans.ts';
import type { ChainRows, DraftPlanPort } from '../cuda/step-graph.ts';
import { mergeSpans } from '../cuda/device-spans.ts';
import { checkTargetQuantize, quantizeTargetProgram, quantizeTargetWeights, targetFp8WeightNames } from './quantize-target.ts';

/** Options of loadTarget: the model folder, device, max-model-len, resident requests and rows per pass. */
export interface LoadTargetOptions {
  /** a Hugging Face LlamaForCausalLM folder: config.json + model.safetensors | model.safetensors.index.json */
  readonly model: string;
  readonly device?: DeviceKind | 'auto';
  /** positions per request, prompt and output together (default: the config's max_position_embeddings) */
  readonly maxModelLen?: number;
  /**
   * requests resident at once: KV-cache slots. Default: on the CPU 16; on CUDA as many as fit in 90 % of free
   * device memory after the weights and a reserve, at most 256 (a larger explicit value that does not fit is
   * an error naming the sizes)
   */
  readonly maxNumSeqs?: number;
  /** token rows per forward pass; longer prompts are prefilled in chunks (default 2048) */
  readonly maxBatchTokens?: number;
  /** KV-cache storage dtype (default f32) */
  readonly kvDtype?: FloatDType;
  /**
   * 'bf16': the projections' inputs rounded to bf16, as bf16 PyTorch / vLLM models compute (one tensor-core
   * term per activation: faster at ≥ 5 rows); default 'f32', exact against fp32 references
   */
  readonly activations?: ActivationMode;
  /**
   * weight storage (default 'none': as in the checkpoint). 'fp8': every projection (qkv, o, gate_up, down) and
   * an untied LM head in e4m3 with per-output-row f32 scales, quantized while loading (on CUDA chunk by chunk
   * during the streamed upload); embeddings and norms stay as loaded (docs/targets.md)
   */
  readonly quantize?: TargetQuantizeMode;
  readonly onProgress?: (p: LoadProgress) => void;
  readonly quiet?: boolean;
}

/** One request's state in the target: a KV slot and how many positions it holds. */
export interface TargetSequence {
  readonly id: number;
  readonly slot: number;
  /** cached positions (the next token goes at this position) */
  readonly length: number;
  readonly closed: boolean;
  /** forget the last r cached positions (rejected draft tokens); copies nothing */
  rollback(r: number): void;
  /** frees the slot; idempotent */
  close(): void;
}

/** One sequence's new tokens in a forward pass, and which rows' outputs are wanted. */
export interface ForwardItem {
  readonly seq: TargetSequence;
  /** new tokens, placed at positions seq.length … seq.length + n − 1 */
  readonly tokens: ArrayLike<number>;
  /** head outputs for the last new token only (prefill) or for every new token (verify) */
  readonly want: 'last' | 'all';
  /**
   * With forward's `draft` only: tokens[from + j] for j < count are placeholders, filled on the device from
   * token j of row `row` of the draft enqueued in front of the pass (the host value is what the host checks)
   */
  readonly deviceTokens?: { readonly from: number; readonly row: number; readonly count: number };
}

/** Where a wanted row's hidden state sits on the device: row `row` of pass `pass`'s hidden output. */
export interface HiddenRef {
  readonly pass: number;
  readonly row: number;
}

/** A draft forward enqueues in front of its one pass: returns where row i's draft token j lies on the device. */
export interface ChainedDraft {
  enqueue(): (row: number, j: number) => bigint;
  /**
   * The draft plan and its rows for a target that fuses drafts (TargetChainInfo.fusesDrafts), or null when
   * the draft cannot run inside the pass's step graph (a hidden row no longer in the last pass's output, more
   * rows than one step takes): then forward calls enqueue(). src[b]: the row of the last pass's hidden output.
   */
  readonly fusable?: { readonly port: DraftPlanPort; readonly src: Int32Array; readonly last: Int32Array } | null;
  /** after a fused pass: each draft row's verified draft tokens, read back with the pass's outputs */
  deliver?(tokens: readonly Int32Array[]): void;
}

/** What a CUDA target offers a chained draft (TargetModel.chain, present on CUDA only). */
export interface TargetChainInfo {
  /** the stream's owner: a drafter chains only when its own key is the same object */
  readonly key: object;
  /** the most token rows of one pass: a forward with a draft must fit in one */
  readonly maxRows: number;
  /** the device address of a hidden row, or null when a later pass has overwritten it */
  hiddenRowAddress(ref: HiddenRef): bigint | null;
  /** the row of the last pass's hidden output that `ref` names, or null when a later pass has overwritten it */
  hiddenRow(ref: HiddenRef): number | null;
  /** whether a draft runs inside the verify pass's step graph (ChainedDraft.fusable) */
  readonly fusesDrafts: boolean;
}

/** The wanted rows of one item: final-norm hidden states, argmax ids and, when asked, logits. */
export interface ForwardResult {
  /** rows × H final-norm hidden states (what a drafter reads) */
  readonly hidden: Float32Array;
  /** rows argmax ids */
  readonly nextTokens: Int32Array;
  /** rows × V logits, when asked for */
  readonly logits?: Float32Array;
  /** on CUDA, for a result from one pass: where its first row's hidden state is on the device (row i: row + i) */
  readonly hiddenRef?: HiddenRef;
}

/** A loaded target: batched forward passes over sequences that own KV-cache slots (exported as `Target`). */
export interface TargetModel {
  readonly config: LlamaConfig;
  readonly program: Program;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly maxModelLen: number;
  readonly maxNumSeqs: number;
  readonly device: DeviceKind;
  readonly deviceDescription: string;
  readonly slots: KvSlots;
  /** on CUDA: device hidden rows and a draft chained in front of one pass (runtime/engine/chained-draft.ts) */
  readonly chain?: TargetChainInfo;
  newSequence(name?: string): TargetSequence;
  /**
   * One batched step over several sequences (split into passes of at most maxBatchTokens rows). With
   * `draft` (needs `chain`): one pass only, the draft enqueued in front of it and the items' deviceTokens
   * patched from it on the device; forward's one stream sync covers the draft too.
   */
  /** `whileRunning`: host work done once while the (first) pass runs on the device (TargetRunOptions.whileRunning) */
  forward(items: readonly ForwardItem[], o?: { logits?: boolean; draft?: ChainedDraft; whileRunning?: () => void }): Promise<ForwardResult[]>;
  /** a copy of one layer's cache, for tests */
  readCache(layer: number, kind: 'key' | 'value'): HostTensor;
  close(): void;
}

/**
 * Load a Hugging Face LlamaForCausalLM folder onto a device (CPU interpreter or CUDA plan) with its KV-cache
 * slots. On CUDA the weights stream from the files to the device in chunks (host memory stays flat).
 */
export async function loadTarget(o: LoadTargetOptions): Promise<TargetModel> {
  let maxNumSeqs = o.maxNumSeqs ?? 16;
  const maxBatchTokens = o.maxBatchTokens ?? 2048;
  for (const [k, v] of [['maxNumSeqs', maxNumSeqs], ['maxBatchTokens', maxBatchTokens]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`loadTarget: ${k} must be a positive integer, got ${v}`);
  }
  const quantize = checkTargetQuantize(o.quantize ?? 'none');
  checkActivationMode('loadTarget', o.activations);
  const choice = await selectDevice(o.device ?? 'auto');
  // the config decides max-model-len before a weight byte is read
  const { config } = readLlamaConfig(o.model);
  const maxModelLen = o.maxModelLen ?? config.maxPositionEmbeddings;
  if (!Number.isInteger(maxModelLen) || maxModelLen < 2) throw new RangeError(`loadTarget: maxModelLen must be an integer ≥ 2, got ${o.maxModelLen}`);
  if (maxModelLen > config.maxPositionEmbeddings) {
    throw new RangeError(`loadTarget: maxModelLen ${maxModelLen} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings} (${o.model}/config.json)`);
  }
  // on CUDA the weights are streamed from the files to the device (flat host memory); the CPU computes on host copies
  // on CUDA one device reference is held from sizing to the backend, so its context is created once
  const dev = choice.device === 'cuda' ? (await import('../cuda/device.ts')).openDevice() : null;
  let opened: OpenedLlama | null = null;
  let weights: Map<string, WeightData>;
  let backend: TargetBackend;
  let program: Program;
  try {
    opened = dev ? openLlamaCheckpoint(o.model, { onProgress: o.onProgress, quiet: o.quiet }) : null;
    weights = opened ? opened.weights : loadLlamaCheckpoint(o.model, { onProgress: o.onProgress, quiet: o.quiet }).weights;
    // the program is traced with the checkpoint's dtypes; 'fp8' then replaces each quantized weight in the map
    // (host tensors now, streamed ones as they are uploaded): the map never holds both forms
    const dtypes = new Map([...weights].map(([n, w]) => [n, { dtype: w.dtype }]));
    const fp8Names = quantize === 'fp8' ? targetFp8WeightNames(config) : [];
    quantizeTargetWeights(weights, fp8Names);
    if (dev) {
      const weightBytes = [...weights.values()].reduce((a, t) => a + weightByteLength(t), 0);
      maxNumSeqs = kvSlotsFor({ numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim, maxModelLen, kvDtype: o.kvDtype ?? 'f32' },
        dev.memory.info().free, weightBytes, o.maxNumSeqs ?? null);
    }
    addRopeTables(weights, config, maxModelLen);
    // the CPU computes logits anyway (argmax on the host); on CUDA greedy steps copy back only the argmax
    program = targetProgram(config, dtypes, { slots: maxNumSeqs, maxLen: maxModelLen, kvDtype: o.kvDtype, activations: o.activations, head: dev ? 'both' : 'logits' });
    if (fp8Names.length) program = quantizeTargetProgram(program, fp8Names);
    if (dev) {
      const { createCudaTargetBackend } = await import('./cuda-backend.ts');
      backend = await createCudaTargetBackend(program, weights, { maxTokens: maxBatchTokens, maxRows: maxBatchTokens, numLayers: config.numLayers, vocabSize: config.vocabSize });
    } else {
      backend = createCpuTargetBackend(program.graph, weights as Map<string, HostTensor>, config.numLayers, config.vocabSize);
    }
  } finally {
    try { opened?.close(); } finally { dev?.release(); }
  }
  const summary: TargetWeights = {
    quantize,
    weights: new Map([...weights].map(([n, w]) => [n, { dtype: w.dtype, shape: [...w.shape], bytes: weightByteLength(w) }])),
    bytes: [...weights.values()].reduce((a, t) => a + weightByteLength(t), 0),
  };
  // the device holds its own copy; the CPU backend reads these very tensors
  if (backend.device === 'cuda') weights.clear();
  const quant = quantize === 'fp8' ? `, fp8 e4m3 projection${config.tieWordEmbeddings ? '' : ' and LM head'} weights with per-row f32 scales` : '';
  const description = `${backend.description}${quant}${choice.reason ? ` (${choice.reason})` : ''}`;
  const target = targetOver(config, program, backend, new KvSlots(maxNumSeqs, maxModelLen), maxBatchTokens, description);
  backends.set(target, backend);
  weightSummaries.set(target, summary);
  return target;
}

const backends = new WeakMap<TargetModel, TargetBackend>();
const weightSummaries = new WeakMap<TargetModel, TargetWeights>();

/** What a loaded target's backend holds: its weight mode and every weight's name, dtype, shape and bytes. */
export interface TargetWeights {
  readonly quantize: TargetQuantizeMode;
  readonly weights: ReadonlyMap<string, { readonly dtype: string; readonly shape: readonly number[]; readonly bytes: number }>;
  /** total weight bytes (RoPE tables included) */
  readonly bytes: number;
}

/** The weights behind a loaded target, as loaded (tests assert what 'fp8' replaced; benchmarks size floors). */
export function targetWeights(t: TargetModel): TargetWeights {
  const w = weightSummaries.get(t);
  if (!w) throw new TargetError('targetWeights: not a target returned by loadTarget');
  return w;
}

/** The backend behind a loaded target (benchmarks time its CUDA plan directly: bench/target-bench.ts). */
export function targetBackend(t: TargetModel): TargetBackend {
  const b = backends.get(t);
  if (!b) throw new TargetError('targetBackend: not a target returned by loadTarget');
  return b;
}

/** The TargetModel over a backend (loadTarget's; exported for tests that drive a hand-written CUDA plan on the fake driver). */
export function targetOver(config: LlamaConfig, program: Program, backend: TargetBackend, slots: KvSlots, maxBatchTokens: number, deviceDescription: string): TargetModel {
  const H = config.hiddenSize, V = config.vocabSize;
  let nextId = 0;
  /** backend runs started (the last one's hidden output is the one on the device) */
  let passes = 0;
  const bc = backend.chain;
  const chain: TargetChainInfo | undefined = bc && {
    key: bc.chainKey,
    maxRows: maxBatchTokens,
    hiddenRowAddress: (ref) => (ref.pass === passes ? bc.hiddenRowAddress(ref.row) : null),
    hiddenRow: (ref) => (ref.pass === passes ? ref.row : null),
    fusesDrafts: bc.fusesDrafts,
  };
  let closed = false;
  let busy: Promise<unknown> = Promise.resolve();
  const assertOpen = (what: string): void => { if (closed) throw new TargetError(`${what}: the target model is closed`); };

  const newSequence = (name?: string): TargetSequence => {
    assertOpen('newSequence');
    const id = nextId++;
    const slot = slots.acquire(name ?? `request ${id}`);
    let done = false;
    return {
      id, slot,
      get length() { return done ? 0 : slots.length(slot); },
      get closed() { return done; },
      rollback(r: number) { if (done) throw new TargetError(`request ${id}: rollback after close`); slots.rollback(slot, r); },
      close() { if (!done) { done = true; if (!closed) slots.release(slot); } },
    };
  };

  // row buffers reused across passes (a pass's inputs are read before run() resolves)
  let cap = 0;
  let bufTok = new Int32Array(0), bufPos = new Int32Array(0), bufSlot = new Int32Array(0), bufPick = new Int32Array(0), bufOwner = new Int32Array(0);
  const seen = new Uint8Array(slots.count);

  async function forwardNow(items: readonly ForwardItem[], logits: boolean, draft: ChainedDraft | undefined, whileRunning: (() => void) | undefined): Promise<ForwardResult[]> {
    // validate everything before any state changes (the messages are built only on failure)
    const what = (i: number): string => `forward item ${i} (${items[i].seq.closed ? 'closed sequence' : slots.owner(items[i].seq.slot)})`;
    let total = 0;
    try {
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (it.seq.closed) throw new TargetError(`${what(i)}: the sequence is closed`);
        const slot = it.seq.slot;
        if (seen[slot]) throw new TargetError(`${what(i)}: the same sequence appears twice in one forward`);
        seen[slot] = 1;
        const toks = it.tokens, n = toks.length;
        if (n === 0) throw new TargetError(`${what(i)}: no tokens`);
        for (let j = 0; j < n; j++) {
          const t = toks[j];
          if (!Number.isInteger(t) || t < 0 || t >= V) throw new TargetError(`${what(i)}: token ${j} is ${t}, outside the vocabulary [0, ${V})`);
        }
        slots.checkRoom(slot, n);
        const dt = it.deviceTokens;
        if (dt && !(draft && Number.isInteger(dt.from) && Number.isInteger(dt.count) && Number.isInteger(dt.row) && dt.from >= 0 && dt.count >= 0 && dt.row >= 0 && dt.from + dt.count <= n)) {
          throw new TargetError(`${what(i)}: device tokens ${JSON.stringify(dt)} ${draft ? `outside its ${n} tokens` : 'without a draft'}`);
        }
        total += n;
      }
    } finally {
      for (const it of items) seen[it.seq.slot] = 0;
    }
    if (draft && !chain) throw new TargetError(`forward: a chained draft needs a CUDA target (this one runs on ${backend.device})`);
    if (draft && total > maxBatchTokens) throw new TargetError(`forward: a chained draft needs one pass, but ${total} token rows exceed maxBatchTokens ${maxBatchTokens}`);
    const rows = Math.min(total, maxBatchTokens);
    if (rows > cap) {
      cap = Math.max(rows, 2 * cap);
      bufTok = new Int32Array(cap); bufPos = new Int32Array(cap); bufSlot = new Int32Array(cap); bufPick = new Int32Array(cap); bufOwner = new Int32Array(cap);
    }
    // pack rows into passes of at most maxBatchTokens; each item's wanted rows are collected in order
    const perItem: TargetStepOutputs[][] = items.map(() => []);
    let nRows = 0, nPicks = 0;
    const row0 = draft ? new Int32Array(items.length) : null;
    const fusable = draft && chain?.fusesDrafts ? draft.fusable ?? null : null;
    const flush = async (): Promise<void> => {
      if (nRows === 0) return;
      const pass = ++passes;
      const fused = fusable ? { port: fusable.port, rows: chainRows(items, row0!, fusable.src, fusable.last) } : null;
      // the host work to overlap goes with the first pass
      const w = whileRunning ? { whileRunning } : {};
      whileRunning = undefined;
      const out = await backend.run({
        tokens: bufTok.subarray(0, nRows), positions: bufPos.subarray(0, nRows), slots: bufSlot.subarray(0, nRows), rows: bufPick.subarray(0, nPicks),
      }, fused ? { logits, fusedDraft: fused, ...w } : draft ? { logits, beforeEnqueue: () => draftPatches(items, row0!, draft.enqueue()), ...w } : { logits, ...w });
      if (fused) {
        const d = out.draftTokens;
        if (!d) throw new TargetError('forward: the backend ran a fused draft but returned no draft tokens');
        const { dst, count } = fused.rows;
        draft!.deliver!(Array.from(dst, (at, b) => d.subarray(at, at + count[b])));
      }
      // split the M picked rows back to their items (views: a backend's outputs are fresh arrays per run)
      let r = 0;
      while (r < nPicks) {
        let e = r;
        while (e < nPicks && bufOwner[e] === bufOwner[r]) e++;
        perItem[bufOwner[r]].push({
          hidden: out.hidden.subarray(r * H, e * H), nextTokens: out.nextTokens.subarray(r, e),
          ...(out.logits ? { logits: out.logits.subarray(r * V, e * V) } : {}),
          ...(chain ? { hiddenRef: { pass, row: r } } : {}),
        });
        r = e;
      }
      nRows = 0; nPicks = 0;
    };
    for (let i = 0; i < items.length; i++) {
      const it = items[i], toks = it.tokens, n = toks.length, slot = it.seq.slot, all = it.want === 'all';
      const base = slots.length(slot);
      if (row0) row0[i] = nRows;
      for (let j = 0; j < n; j++) {
        if (nRows === maxBatchTokens) await flush();
        if (all || j === n - 1) { bufPick[nPicks] = nRows; bufOwner[nPicks] = i; nPicks++; }
        bufTok[nRows] = toks[j]; bufPos[nRows] = base + j; bufSlot[nRows] = slot; nRows++;
      }
    }
    await flush();
    items.forEach((it) => slots.advance(it.seq.slot, it.tokens.length));
    return perItem.map((parts) => (parts.length === 1 ? parts[0] : {
      hidden: concatF32(parts.map((p) => p.hidden)), nextTokens: Int32Array.from(parts.flatMap((p) => [...p.nextTokens])),
      ...(logits ? { logits: concatF32(parts.map((p) => p.logits!)) } : {}),
    }));
  }

  return {
    config, program, hiddenSize: H, vocabSize: V, maxModelLen: slots.maxLen, maxNumSeqs: slots.count,
    device: backend.device, deviceDescription, slots,
    ...(chain ? { chain } : {}),
    newSequence,
    forward(items, o = {}) {
      assertOpen('forward');
      // passes are serialized: one backend, one cache
      const next = busy.then(() => forwardNow(items, o.logits ?? false, o.draft, o.whileRunning));
      busy = next.catch(() => undefined);
      return next;
    },
    readCache(layer, kind) { assertOpen('readCache'); return backend.readCache(layer, kind); },
    close() { if (!closed) { closed = true; backend.close(); } },
  };
}

/** A fused pass's draft rows: each item with device tokens names its draft row (dt.row), where they go and how many. */
function chainRows(items: readonly ForwardItem[], row0: Int32Array, src: Int32Array, last: Int32Array): ChainRows {
  const B = src.length, dst = new Int32Array(B).fill(-1), count = new Int32Array(B);
  items.forEach((it, i) => {
    const dt = it.deviceTokens;
    if (!dt) return;
    if (dt.row >= B || dst[dt.row] !== -1) throw new TargetError(`forward item ${i}: device tokens name draft row ${dt.row}, ${dt.row >= B ? `but the draft has ${B}` : 'which another item names too'}`);
    dst[dt.row] = row0[i] + dt.from;
    count[dt.row] = dt.count;
  });
  const missing = dst.indexOf(-1);
  if (missing >= 0) throw new TargetError(`forward: draft row ${missing} is verified by no item (each fused draft row needs one item's device tokens)`);
  return { src, last, dst, count };
}

/** The tokens-input patches of a chained pass: each item's device tokens from the draft (`at`), merged where contiguous. */
function draftPatches(items: readonly ForwardItem[], row0: Int32Array, at: (row: number, j: number) => bigint): DeviceSpan[] {
  const spans: DeviceSpan[] = [];
  items.forEach((it, i) => {
    const dt = it.deviceTokens;
    if (dt) for (let j = 0; j < dt.count; j++) spans.push({ src: at(dt.row, j), offset: (row0[i] + dt.from + j) * 4, bytes: 4 });
  });
  return mergeSpans(spans);
}

function concatF32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
