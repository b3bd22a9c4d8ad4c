// FP8 target weights (issue 11): weight-only e4m3 with per-output-row f32 scales for every projection linear
// of the Llama program (the merged qkv_proj, o_proj, the merged gate_up_proj, down_proj) and the untied LM
// head, exactly the speculators' fp8 form (compiler/passes/fp8-matmul.ts: linear(x, W) becomes
// linear(x, W.fp8) × broadcast(W.scale), runtime/quantize-fp8.ts makes the two params). The embedding table
// and the norms stay as loaded; a tied head is the embedding table, so it stays too.
// The weights are quantized as they are loaded: a host tensor (the CPU backend) at once, its original dropped
// from the map; a streamed checkpoint weight (the CUDA upload) chunk by chunk inside its read, so the device
// receives e4m3 bytes and the host never holds more than one block of bf16 rows. Both paths run the same
// row quantizer (quantizeFp8 on whole rows), so the CUDA plan's weights are byte-equal to the CPU's.
import { graphParams } from '../../compiler/ir/graph.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import type { Rule } from '../../compiler/ir/rewrite.ts';
import { rewriteGraph } from '../../compiler/ir/rewrite.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { FP8_SUFFIX, fp8Linear, SCALE_SUFFIX } from '../../compiler/passes/fp8-matmul.ts';
import type { Program } from '../../dsl/index.ts';
import { llamaParam } from '../../models/llama.ts';
import type { LlamaConfig } from '../checkpoint/llama-config.ts';
import { quantizeFp8 } from '../quantize-fp8.ts';
import type { StreamedWeight, WeightData } from '../weight-data.ts';
import { isStreamed } from '../weight-data.ts';

/** The target's weight modes: 'none' (as loaded) or 'fp8' (projections and untied head in e4m3, per-row f32 scales). */
export const TARGET_QUANTIZE_MODES = ['none', 'fp8'] as const;
/** One of TARGET_QUANTIZE_MODES. */
export type TargetQuantizeMode = (typeof TARGET_QUANTIZE_MODES)[number];

/** Throws a RangeError naming the valid modes unless `mode` is one of them. */
export function checkTargetQuantize(mode: unknown, who = 'loadTarget'): TargetQuantizeMode {
  if (typeof mode === 'string' && (TARGET_QUANTIZE_MODES as readonly string[]).includes(mode)) return mode as TargetQuantizeMode;
  throw new RangeError(`${who}: quantize must be one of ${TARGET_QUANTIZE_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
}

type Shape = Pick<LlamaConfig, 'numLayers' | 'tieWordEmbeddings'>;

/** The canonical weight names 'fp8' stores in e4m3: every layer's four projections, then the head when untied. */
export function targetFp8WeightNames(c: Shape): string[] {
  const out: string[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const w = llamaParam.layer(i);
    out.push(w.qkv, w.o, w.gateUp, w.down);
  }
  if (!c.tieWordEmbeddings) out.push(llamaParam.lmHead);
  return out;
}

/**
 * The program with each linear whose weight is one of `names` rewritten to its fp8 form (fp8-matmul's
 * fp8Linear: linear(x, W.fp8) × broadcast(W.scale)). Every name must be a linear's weight, and no quantized
 * weight may be read any other way (a gathered table would then need both copies).
 */
export function quantizeTargetProgram(program: Program, names: readonly string[]): Program {
  const want = new Set(names);
  const done = new Set<string>();
  const rule: Rule = {
    name: 'target-linear-to-fp8', op: 'linear',
    match: (n) => {
      const w = n.src[1];
      if (w.op !== 'param' || !want.has(w.argOf<string>('name'))) return undefined;
      done.add(w.argOf<string>('name'));
      return fp8Linear(n);
    },
  };
  const graph: Graph = rewriteGraph(program.graph, [rule], { name: 'target-fp8' });
  const missing = names.filter((n) => !done.has(n));
  if (missing.length) throw new Error(`quantize fp8: the target program has no linear reading ${missing.map((m) => `"${m}"`).join(', ')}`);
  const still = graphParams(graph).map((p) => p.argOf<string>('name')).filter((n) => want.has(n));
  if (still.length) throw new Error(`quantize fp8: the target program still reads ${still.map((m) => `"${m}"`).join(', ')} unquantized (not only through a linear)`);
  return { graph, dims: program.dims, sites: program.sites };
}

/** Source rows quantized per block of a streamed weight: at most this many source bytes in host memory at once. */
export const QUANTIZE_BLOCK_BYTES = 16 << 20;

const SOURCE_ITEM: Readonly<Record<string, number>> = { bf16: 2, f16: 2, f32: 4 };

/**
 * A streamed [N,K] float weight's fp8 form as two streamed weights: W.fp8 (e4m3 [N,K]) and W.scale (f32 [N]).
 * Reading any byte range of W.fp8 reads the source rows it covers (in blocks of at most `blockBytes`),
 * quantizes each whole row (quantizeFp8: its bytes equal those of the whole tensor's quantization) and keeps
 * the rows' scales (4 bytes a row); W.scale then returns the kept scales, or, read first, computes them in
 * one pass over the source.
 */
export function streamedFp8(w: StreamedWeight, name: string, blockBytes = QUANTIZE_BLOCK_BYTES): { fp8: StreamedWeight; scale: StreamedWeight } {
  if (w.shape.length !== 2) throw new RangeError(`quantize fp8 ${name}: expected a [N,K] weight, got [${w.shape.join(', ')}]`);
  const item = SOURCE_ITEM[w.dtype];
  if (!item) throw new TypeError(`quantize fp8 ${name}: cannot quantize ${w.dtype} (bf16, f16 or f32 expected)`);
  const [N, K] = w.shape;
  if (w.byteLength !== N * K * item) throw new RangeError(`quantize fp8 ${name}: ${w.byteLength} bytes for ${w.dtype}[${N}, ${K}]`);
  const blockRows = Math.max(1, Math.floor(blockBytes / (K * item)));
  const scales = new Float32Array(N);
  const known = new Uint8Array(N);
  let knownCount = 0;
  let scratch: ArrayBuffer | null = null;

  /** quantizes rows [r0, r1) (at most blockRows) and keeps their scales */
  const rows = (r0: number, r1: number): HostTensor => {
    const n = r1 - r0;
    scratch ??= new ArrayBuffer(Math.min(blockRows, N) * K * item);
    const bytes = new Uint8Array(scratch, 0, n * K * item);
    w.read(bytes, r0 * K * item);
    const data = item === 4 ? new Float32Array(scratch, 0, n * K) : new Uint16Array(scratch, 0, n * K);
    const q = quantizeFp8(hostTensor(w.dtype, [n, K], data), `${name} rows ${r0}…${r1 - 1}`);
    const s = q.scale.data as Float32Array;
    for (let r = 0; r < n; r++) {
      if (!known[r0 + r]) { known[r0 + r] = 1; knownCount++; scales[r0 + r] = s[r]; }
    }
    return q.fp8;
  };
  const fp8: StreamedWeight = {
    dtype: 'fp8e4m3', shape: [N, K], byteLength: N * K,
    read(dst: Uint8Array, offset: number): void {
      const end = offset + dst.byteLength;
      if (offset < 0 || end > N * K) throw new RangeError(`${name}${FP8_SUFFIX}: bytes [${offset}, ${end}) are outside its ${N * K}`);
      for (let r = Math.floor(offset / K); r * K < end; r += blockRows) {
        const r1 = Math.min(N, r + blockRows);
        const codes = rows(r, r1).data as Uint8Array;
        // the part of rows [r, r1) inside [offset, end)
        const from = Math.max(offset, r * K), to = Math.min(end, r1 * K);
        dst.set(codes.subarray(from - r * K, to - r * K), from - offset);
      }
    },
  };
  const scale: StreamedWeight = {
    dtype: 'f32', shape: [N], byteLength: 4 * N,
    read(dst: Uint8Array, offset: number): void {
      if (offset < 0 || offset + dst.byteLength > 4 * N) throw new RangeError(`${name}${SCALE_SUFFIX}: bytes [${offset}, ${offset + dst.byteLength}) are outside its ${4 * N}`);
      if (knownCount < N) for (let r = 0; r < N; r += blockRows) rows(r, Math.min(N, r + blockRows));
      dst.set(new Uint8Array(scales.buffer, offset, dst.byteLength));
    },
  };
  return { fp8, scale };
}

/**
 * Replaces each of `names` in `weights` (in place) by its W.fp8 and W.scale: host tensors quantized now,
 * streamed weights wrapped by streamedFp8 (quantized when the upload reads them). The original entry is
 * deleted, so the map never holds both forms. Returns the names quantized.
 */
export function quantizeTargetWeights(weights: Map<string, WeightData>, names: readonly string[]): string[] {
  for (const name of names) {
    const w = weights.get(name);
    if (!w) throw new Error(`quantize fp8: the checkpoint has no weight "${name}"`);
    weights.delete(name);
    if (isStreamed(w)) {
      const q = streamedFp8(w, name);
      weights.set(name + FP8_SUFFIX, q.fp8);
      weights.set(name + SCALE_SUFFIX, q.scale);
    } else {
      const q = quantizeFp8(w, name);
      weights.set(name + FP8_SUFFIX, q.fp8);
      weights.set(name + SCALE_SUFFIX, q.scale);
    }
  }
  return [...names];
}
