// compileProgram: Graph → ExecutionPlan. Schedule (kernels and what each inlines), lower every kernel
// to PTX, then lay temporaries out in one arena by liveness over the launch order. The result is a
// pure function of the graph and options: identical PTX text for identical input (the driver's JIT
// cache keys on it), and an irHash of the printed IR.
import type { GemmMode } from './codegen/ptx/kernel-gemm.ts';
import { gemmMode } from './codegen/ptx/kernel-gemm.ts';
import { createHash } from 'node:crypto';
import type { ExecutionPlan, PlanBuffer } from './codegen/plan.ts';
import { emitKernels } from './codegen/ptx/emit.ts';
import { IRError } from './ir/errors.ts';
import type { Graph } from './ir/graph.ts';
import { graphNodes } from './ir/graph.ts';
import { printGraph } from './ir/print.ts';
import { fmtShape } from './ir/shape.ts';
import { lmHeadArgmax } from './passes/lm-head-argmax.ts';
import { uncertifySmall } from './passes/lm-head-certify.ts';
import { TC_MIN_ROWS } from './codegen/ptx/kernel-linear-tc.ts';
import { lmHeadTopk } from './passes/lm-head-topk.ts';
import { lowerTraining } from './passes/lower-training.ts';
import { planArena } from './schedule/memory-plan.ts';
import type { AttentionSplitOptions } from './schedule/attention-split.ts';
import type { TcSplitOptions } from './schedule/tc-split.ts';
import { scheduleGraph } from './schedule/schedule.ts';
import { VERSION } from './version.ts';

export interface CompileOptions {
  /** the largest value of every symbolic dim (e.g. { B: 64 }); sizes buffers and the arena */
  readonly maxDims: Readonly<Record<string, number>>;
  /** plan name and kernel-name prefix (default: the graph's name) */
  readonly name?: string;
  /** the tiled GEMM's arithmetic (default: $ARCTICC_GEMM, else 'tf32x3'; see kernel-gemm.ts) */
  readonly gemm?: GemmMode;
  /** the attention split over positions (compiler/schedule/attention-split.ts); tests pass small chunks */
  readonly attention?: AttentionSplitOptions;
  /** the tensor-core linear's K split (compiler/schedule/tc-split.ts); tests pass a small minWeights */
  readonly tcSplit?: TcSplitOptions;
}

export const COMPILER_VERSION: string = VERSION;

/** Largest element count of any tensor: linear indices are u32 and coordinates s32 in the kernels. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

export const irHash = (g: Graph): string => createHash('sha256').update(printGraph(g)).digest('hex');

function checkDims(g: Graph, maxDims: Readonly<Record<string, number>>): void {
  for (const [d, v] of Object.entries(maxDims)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`compile ${g.name}: maxDims.${d} must be a positive integer, got ${v}`);
  }
  for (const n of graphNodes(g)) {
    let size = 1;
    for (const d of n.shape) {
      const v = typeof d === 'number' ? d : maxDims[d];
      if (v === undefined) throw new IRError(`compile ${g.name}: ${n} uses dim "${d}", which has no maximum in maxDims (pass e.g. { ${d}: 64 })`);
      size *= v;
    }
    if (size > MAX_ELEMENTS) {
      throw new IRError(`compile ${g.name}: ${n} has ${size} elements at ${fmtShape(n.shape)} with maxDims ${JSON.stringify(maxDims)}; kernels index tensors with 32 bits (at most ${MAX_ELEMENTS})`);
    }
  }
}

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_').replace(/^([0-9])/, '_$1');

/** Compiles a graph to an ExecutionPlan: kernels scheduled, PTX emitted (sm_90), temporaries laid out in one arena. */
export function compileProgram(source: Graph, opts: CompileOptions): ExecutionPlan {
  const graph = lowerTraining(source);
  const name = opts.name ?? graph.name;
  const maxDims = { ...opts.maxDims };
  checkDims(graph, maxDims);
  // the LM-head argmax and top-k epilogues are passes (no-ops where the pipeline ran them); irHash stays the given IR's
  // a certified head whose batch stays below the tensor-core kernel's plans as the ordinary fused argmax
  const s = scheduleGraph(uncertifySmall(lmHeadTopk(lmHeadArgmax(graph)), maxDims, TC_MIN_ROWS), { maxDims, ...(opts.attention ? { attention: opts.attention } : {}), ...(opts.tcSplit ? { tcSplit: opts.tcSplit } : {}) });
  const { modules, kernels, launches } = emitKernels(s, maxDims, sanitize(name), { gemm: opts.gemm ?? gemmMode() });
  const uses = launches.map((l) => l.args.flatMap((a) => ('buffer' in a ? [a.buffer] : [])));
  const temps = s.buffers.filter((b) => b.kind === 'temp');
  const arena = planArena(temps, uses, maxDims);
  const buffers: PlanBuffer[] = s.buffers.map((b) => {
    if (b.kind !== 'temp') return { id: b.id, dtype: b.dtype, shape: b.shape, kind: b.kind, ...(b.name === undefined ? {} : { name: b.name }) };
    const offset = arena.offsets.get(b.id);
    if (offset === undefined) throw new Error(`compile ${name}: temporary ${b.id} is never used by a launch`);
    return { id: b.id, dtype: b.dtype, shape: b.shape, kind: b.kind, offset };
  });
  return {
    name,
    maxDims,
    modules,
    kernels,
    buffers,
    launches,
    arenaBytes: arena.arenaBytes,
    inputs: s.inputs,
    outputs: s.outputs,
    ...(s.state.length ? { state: s.state } : {}),
    ...(s.derived.length ? { derived: s.derived } : {}),
    irHash: irHash(graph),
    compilerVersion: COMPILER_VERSION,
  };
}
