// The one way a speculator program is compiled: `arcticc compile`, loadSpeculator's CUDA backend and
// bench/gpu-bench.ts all call compileSpeculator (a tensor-parallel rank: compileRankStages, the same per stage), so an artifact written by the CLI holds the plan the
// library runs (same passes, same order, same maxDims; tests/unit/runtime/compile-speculator.test.ts).
// The passes are gate-fusion, DEFAULT_PIPELINE, then fp8-matmul when quantizing, then lm-head-argmax and lm-head-topk,
// then bf16-activations when activations are 'bf16', then lm-head-certify when the certified argmax head is on (opt-in: certifiedArgmax, or ARCTICC_CERTIFIED_ARGMAX=1;
// docs/certified-argmax.md). Weights are
// fused (fuseGateWeights, from gate-fusion's derivation) and quantized (quantizeGraph) separately: gate-fusion and
// fp8-matmul rename only the params they rewrite, canonicalize renames none.
import type { ExecutionPlan } from '../compiler/codegen/plan.ts';
import { compileProgram } from '../compiler/compile.ts';
import type { Graph } from '../compiler/ir/graph.ts';
import { stageAtCollectives } from '../compiler/passes/tensor-parallel.ts';
import type { Pipeline, PipelineOptions } from '../compiler/pipeline.ts';
import { DEFAULT_PIPELINE, runPipeline } from '../compiler/pipeline.ts';
import type { ActivationMode } from '../models/llama.ts';
import type { QuantizeMode } from './quantize-program.ts';
import { fp8PassOptions } from './quantize-program.ts';

export interface CompileSpeculatorOptions extends Pick<PipelineOptions, 'dumpAfter' | 'stopAfter' | 'onDump'> {
  /** weight quantization (default 'none') */
  readonly quantize?: QuantizeMode;
  /** 'bf16': every linear's input rounded to bf16 (the bf16-activations pass: a bf16 model's numerics); default 'f32' */
  readonly activations?: ActivationMode;
  /** the certified argmax head at B ≥ 5 (lm-head-certify; default: ARCTICC_CERTIFIED_ARGMAX=1 in the environment) */
  readonly certifiedArgmax?: boolean;
  /** the largest batch the kernels are sized for (maxDims.B) */
  readonly maxBatch: number;
}

/** Whether the certified argmax head is on by default: ARCTICC_CERTIFIED_ARGMAX=1 (opt-in until measured). */
export const certifiedArgmaxDefault = (): boolean => process.env.ARCTICC_CERTIFIED_ARGMAX === '1';

/** The passes a speculator is compiled with. */
export function speculatorPipeline(quantize: QuantizeMode = 'none', certified = certifiedArgmaxDefault(), activations: ActivationMode = 'f32'): Pipeline {
  return ['gate-fusion', ...DEFAULT_PIPELINE, ...(quantize === 'none' ? [] : [{ pass: 'fp8-matmul', options: fp8PassOptions(quantize) }]),
    ...(activations === 'bf16' ? ['bf16-activations'] : []), 'lm-head-argmax', 'lm-head-topk', ...(certified ? ['lm-head-certify'] : [])];
}

/** The traced graph after the speculator pipeline (what is scheduled). */
export function lowerSpeculator(traced: Graph, o: Omit<CompileSpeculatorOptions, 'maxBatch'> = {}): Graph {
  return runPipeline(traced, speculatorPipeline(o.quantize, o.certifiedArgmax, o.activations), { dumpAfter: o.dumpAfter, stopAfter: o.stopAfter, onDump: o.onDump });
}

/** Schedule + PTX of a lowered speculator graph, sized for batches up to maxBatch. */
export function planSpeculator(lowered: Graph, maxBatch: number): ExecutionPlan {
  return compileProgram(lowered, { maxDims: { B: maxBatch } });
}

/** Passes, then schedule + PTX: the plan every path runs (the CLI calls its two halves, dumping between them). */
export function compileSpeculator(traced: Graph, o: CompileSpeculatorOptions): { graph: Graph; plan: ExecutionPlan } {
  const graph = lowerSpeculator(traced, o);
  return { graph, plan: planSpeculator(graph, o.maxBatch) };
}

/** One compiled stage of a tensor-parallel rank program (compiler/passes/tensor-parallel.ts: stageAtCollectives). */
export interface CompiledRankStage {
  readonly plan: ExecutionPlan;
  /** the collective (seq) issued after this stage (it sends the stage's output `all_gather.k.send`); null after the last */
  readonly then: number | null;
}

/**
 * A rank program (shardVocabParallel's graph, collectives and all) compiled as the CUDA rank executor
 * runs it: staged at its collectives, each stage through the speculator passes and planSpeculator, so
 * a stage's kernels are the ones `compileSpeculator` would emit for the same graph.
 */
export function compileRankStages(rankGraph: Graph, o: CompileSpeculatorOptions): CompiledRankStage[] {
  if ((o.quantize ?? 'none') !== 'none') throw new TypeError(`tensor parallel does not combine with quantize ${JSON.stringify(o.quantize)} yet`);
  return stageAtCollectives(rankGraph).map((s) => ({ plan: compileSpeculator(s.graph, o).plan, then: s.then }));
}
