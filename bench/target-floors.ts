// The floors of bench/target-bench.ts's rows, from a Llama config alone (explicit byte and FLOP counts, so
// the unit test can assert them and bench/NOTES.md can predict them before a run).
// Decode/verify (B sequences × q new tokens, each sequence holding `context` cached positions): the bytes
// an ideal step must move = every weight of the step read once (all layer projections, the final norm, the
// LM head; the embedding only for its B·q gathered rows) + the B × context cached K/V positions read once
// (an ideal kernel reads a sequence's cache once for its q rows and all query heads of a KV group) + the
// B·q new K/V rows written. Activations are left out (an ideal fused step keeps them on chip). floor ms =
// bytes / the copy bandwidth measured in the same run (read + write counted, as bench/gpu-bench.ts).
// fp8 weights (loadTarget quantize 'fp8'): the projections and an untied head at 1 byte per weight plus a 4-byte
// f32 scale per output row; norms, a tied head (the embedding table) and the gathered embedding rows as bf16.
// Prefill (B prompts of T tokens): FLOPs = 2·T·B·(projection weights) + 2·B·V·H (the head, last row only) +
// causal attention 2·2·Hq·D·T(T+1)/2 per layer and prompt; floor ms = FLOPs / the bf16 tensor-core rate.
import type { LlamaConfig } from '../runtime/checkpoint/llama-config.ts';

type Shape = Pick<LlamaConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'vocabSize' | 'tieWordEmbeddings'>;

/** Elements of one layer's projections: qkv, o, gate_up, down. */
export function layerProjectionParams(c: Shape): number {
  const H = c.hiddenSize, I = c.intermediateSize, D = c.headDim;
  return (c.numHeads + 2 * c.numKvHeads) * D * H + H * c.numHeads * D + 2 * I * H + H * I;
}

/** Weight bytes a decode step reads once (bf16 = 2 bytes): projections, norms, head; not the embedding table. */
export function stepWeightBytes(c: Shape, weightItem = 2): number {
  const H = c.hiddenSize;
  const norms = (2 * c.numLayers + 1) * H;
  return weightItem * (c.numLayers * layerProjectionParams(c) + norms + c.vocabSize * H);
}

/** Output rows of one layer's projections (each fp8 row carries one f32 scale): qkv, o, gate_up, down. */
export function layerProjectionRows(c: Shape): number {
  return (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.hiddenSize + 2 * c.intermediateSize + c.hiddenSize;
}

/** The weight modes a floor counts: as loaded (bf16) or fp8 (runtime/target/quantize-target.ts). */
export type FloorWeights = 'bf16' | 'fp8';

/**
 * Weight bytes a decode step reads once with fp8 weights: projections (and an untied head) at 1 byte per
 * weight + 4 per row of scale; norms and a tied head at 2.
 */
export function stepWeightBytesFp8(c: Shape): number {
  const H = c.hiddenSize, V = c.vocabSize;
  const norms = 2 * (2 * c.numLayers + 1) * H;
  const proj = c.numLayers * (layerProjectionParams(c) + 4 * layerProjectionRows(c));
  const head = c.tieWordEmbeddings ? 2 * V * H : V * H + 4 * V;
  return proj + norms + head;
}

/** Bytes of K and V for one cached position across all layers. */
export const kvBytesPerPosition = (c: Shape, kvItem: number): number => 2 * c.numLayers * c.numKvHeads * c.headDim * kvItem;

export interface DecodeFloor {
  weightBytes: number;
  embedBytes: number;
  kvReadBytes: number;
  kvWriteBytes: number;
  bytes: number;
  /** at `gbps` (1e9 bytes/s) */
  ms: number;
}

export function decodeFloor(c: Shape, B: number, q: number, context: number, gbps: number, kvItem = 2, weightItem = 2, weights: FloorWeights = 'bf16'): DecodeFloor {
  const weightBytes = weights === 'fp8' ? stepWeightBytesFp8(c) : stepWeightBytes(c, weightItem);
  const embedBytes = B * q * c.hiddenSize * weightItem;
  const kvReadBytes = B * context * kvBytesPerPosition(c, kvItem);
  const kvWriteBytes = B * q * kvBytesPerPosition(c, kvItem);
  const bytes = weightBytes + embedBytes + kvReadBytes + kvWriteBytes;
  return { weightBytes, embedBytes, kvReadBytes, kvWriteBytes, bytes, ms: bytes / (gbps * 1e9) * 1e3 };
}

export interface PrefillFloor { flops: number; linearFlops: number; headFlops: number; attentionFlops: number; ms: number }

export function prefillFloor(c: Shape, T: number, B: number, tflops: number): PrefillFloor {
  const linearFlops = 2 * T * B * c.numLayers * layerProjectionParams(c);
  const headFlops = 2 * B * c.vocabSize * c.hiddenSize;
  const attentionFlops = 4 * c.numHeads * c.headDim * (T * (T + 1) / 2) * c.numLayers * B;
  const flops = linearFlops + headFlops + attentionFlops;
  return { flops, linearFlops, headFlops, attentionFlops, ms: flops / (tflops * 1e12) * 1e3 };
}

/** H200 SXM dense bf16 tensor-core peak (NVIDIA's spec, without sparsity): used only when the peer did not measure one. */
export const H200_BF16_DENSE_TFLOPS = 989.4;
