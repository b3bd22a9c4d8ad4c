// The library entry: load a checkpoint, build its program, pick a device, propose draft tokens.
import type { Program } from '../dsl/index.ts';
import type { Backend, DeviceKind } from './backend.ts';
import type { LoadProgress, SpeculatorConfig } from './checkpoint/index.ts';
import { loadCheckpoint } from './checkpoint/index.ts';
import { createCpuBackend } from './cpu/backend.ts';
import type { QuantizeMode } from './quantize-program.ts';
import { describeQuantization, QUANTIZE_MODES, quantizeGraph } from './quantize-program.ts';
import { programFor } from './speculator-program.ts';
import type { ProposeRequest } from './validate-inputs.ts';
import { validateProposeRequest } from './validate-inputs.ts';
import { selectDevice } from './select-device.ts';

export interface LoadSpeculatorOptions {
  /** checkpoint folder: config.json + model.safetensors | model.safetensors.index.json | pytorch_model.bin */
  model: string;
  /** 'auto' (default) uses CUDA when libcuda loads and a device exists, else the CPU backend */
  device?: DeviceKind | 'auto';
  /** the largest batch one propose call may carry (sizes GPU buffers; default 64) */
  maxBatch?: number;
  /** clamp token ids into [0, V−1] as ArcticInference does, instead of rejecting them */
  clampTokens?: boolean;
  /** progress of weight loading; a terminal also gets a progress line for big files unless quiet */
  onProgress?: (p: LoadProgress) => void;
  quiet?: boolean;
  /**
   * 'fp8-head': the LM head in fp8 e4m3 with a per-row f32 scale (half the bytes of the largest weight);
   * 'fp8-all': every linear weight. Default 'none'. The same on the CPU and CUDA backends.
   */
  quantize?: QuantizeMode;
}

export interface Speculator {
  readonly config: SpeculatorConfig;
  readonly program: Program;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** draft tokens per proposal (n_predict) */
  readonly numSpeculativeTokens: number;
  readonly device: DeviceKind;
  /** the device in words, and why it was chosen when device was 'auto' */
  readonly deviceDescription: string;
  /** B×k draft tokens (row-major) for B requests */
  propose(req: ProposeRequest): Promise<Int32Array>;
  close(): void;
}

export async function loadSpeculator(o: LoadSpeculatorOptions): Promise<Speculator> {
  const maxBatch = o.maxBatch ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`loadSpeculator: maxBatch must be a positive integer, got ${o.maxBatch}`);
  const mode = o.quantize ?? 'none';
  if (!(QUANTIZE_MODES as readonly string[]).includes(mode)) throw new RangeError(`loadSpeculator: quantize must be one of ${QUANTIZE_MODES.join(', ')}, got ${JSON.stringify(o.quantize)}`);
  const ckpt = loadCheckpoint(o.model, { onProgress: o.onProgress, quiet: o.quiet });
  const { config } = ckpt;
  const traced = programFor(config, ckpt.weights);
  // the quantized map replaces the checkpoint's: the unquantized copies of fp8 weights are dropped here
  const q = quantizeGraph(traced.graph, ckpt.weights, mode);
  ckpt.weights.clear();
  const weights = q.weights;
  const program: Program = mode === 'none' ? traced : { ...traced, graph: q.graph };
  const choice = await selectDevice(o.device ?? 'auto');
  let backend: Backend;
  if (choice.device === 'cuda') {
    const { createCudaSpeculatorBackend } = await import('./cuda-speculator.ts');
    backend = await createCudaSpeculatorBackend(program, weights, maxBatch);
  } else {
    backend = createCpuBackend(program.graph, weights, config.hiddenSize);
  }
  const quant = describeQuantization(mode, q.quantized);
  const base = quant ? `${backend.description}, ${quant}` : backend.description;
  const description = choice.reason ? `${base} (${choice.reason})` : base;
  let closed = false;
  return {
    config, program,
    hiddenSize: config.hiddenSize,
    vocabSize: config.vocabSize,
    numSpeculativeTokens: config.nPredict,
    device: backend.device,
    deviceDescription: description,
    async propose(req: ProposeRequest): Promise<Int32Array> {
      if (closed) throw new Error('propose: this speculator is closed');
      const { batch, tokens } = validateProposeRequest(req, {
        hiddenSize: config.hiddenSize, vocabSize: config.vocabSize, clampTokens: o.clampTokens,
        maxBatch: backend.device === 'cuda' ? maxBatch : undefined,
      });
      return backend.propose({ hidden: req.hidden, tokens, batch });
    },
    close() {
      if (closed) return;
      closed = true;
      backend.close();
    },
  };
}
