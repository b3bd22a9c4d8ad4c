// Quantization modes of a loaded speculator: rewrite its program with the fp8-matmul pass and replace the
// weights it no longer reads by their fp8 + scale forms, so the host (and device) never hold both copies.
import type { Graph } from '../compiler/ir/graph.ts';
import { graphParams } from '../compiler/ir/graph.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { fp8MatmulDerived } from '../compiler/passes/fp8-matmul.ts';
import type { Fp8Weight } from './quantize-fp8.ts';
import { quantizeFp8 } from './quantize-fp8.ts';

/** The weight quantization modes: 'none', 'fp8-head' (the LM head in fp8 e4m3 with per-row scales), 'fp8-all' (every linear). */
export const QUANTIZE_MODES = ['none', 'fp8-head', 'fp8-all'] as const;
/** One of QUANTIZE_MODES. */
export type QuantizeMode = (typeof QUANTIZE_MODES)[number];

export interface QuantizedGraph {
  readonly graph: Graph;
  /** exactly the params the rewritten graph reads */
  readonly weights: Map<string, HostTensor>;
  /** the original weight names now stored in fp8 */
  readonly quantized: readonly string[];
}

/** fp8-matmul's options for a mode ('fp8-head' → the LM heads, 'fp8-all' → every linear weight). */
export const fp8PassOptions = (mode: Exclude<QuantizeMode, 'none'>) => ({ weights: mode === 'fp8-all' ? 'all' as const : 'head' as const, minRows: 0 });

/** Rewrites a speculator graph for fp8 weights (`mode` 'fp8-head' or 'fp8-all') and quantizes the weights it binds; 'none' returns both unchanged. */
export function quantizeGraph(graph: Graph, weights: ReadonlyMap<string, HostTensor>, mode: QuantizeMode): QuantizedGraph {
  if (!(QUANTIZE_MODES as readonly string[]).includes(mode)) throw new RangeError(`quantize must be one of ${QUANTIZE_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  if (mode === 'none') return { graph, weights: new Map(weights), quantized: [] };
  // the params to bind come from what the pass says it derived, not from their names
  const { graph: g, derived } = fp8MatmulDerived(graph, fp8PassOptions(mode));
  const out = new Map<string, HostTensor>();
  const done = new Map<HostTensor, Fp8Weight>(); // tied names share one tensor: quantize it once
  const quantized: string[] = [];
  for (const { from: base, ...names } of derived) {
    const w = weights.get(base);
    if (!w) throw new Error(`quantize ${mode}: the program reads "${base}" in fp8 but the checkpoint has no tensor "${base}"`);
    let q = done.get(w);
    if (!q) { q = quantizeFp8(w, base); done.set(w, q); }
    out.set(names.fp8, q.fp8);
    out.set(names.scale, q.scale);
    quantized.push(base);
  }
  // keep only what the rewritten graph reads: a weight that is also gathered (a tied embedding) stays
  for (const p of graphParams(g)) {
    const name = p.argOf<string>('name');
    const t = weights.get(name);
    if (!out.has(name) && t) out.set(name, t);
  }
  return { graph: g, weights: out, quantized };
}

/** A phrase for device descriptions, e.g. "fp8 e4m3 weights (per-row f32 scale): head.0.weight". */
export function describeQuantization(mode: QuantizeMode, quantized: readonly string[]): string {
  if (mode === 'none') return '';
  return `fp8 e4m3 ${mode === 'fp8-head' ? 'LM head' : 'linear'} weights with per-row f32 scales (${quantized.join(', ') || 'none matched'})`;
}
