// Lower a schedule to PTX modules, plan kernels and launches. One kernel per module. Kernels whose
// text is identical (the steps of an unrolled loop) are emitted once and launched with different
// buffers; entry names are assigned in first-use order, so the same graph always gives the same text.
import type { Schedule, ScheduledKernel, SplitKv } from '../../schedule/types.ts';
import type { PlanKernel, PlanLaunch } from '../plan.ts';
import type { LaunchShape } from './kernel-common.ts';
import { KernelEnv } from './kernel-env.ts';
import { emitAttentionCombine, emitAttentionKernel } from './kernel-attention.ts';
import { emitScatterKernel } from './kernel-kv-write.ts';
import { emitMapKernel } from './kernel-map.ts';
import type { GemmMode } from './kernel-gemm.ts';
import { emitGemmKernel, emitSplitKReduce, gemmMode, gemmShape } from './kernel-gemm.ts';
import { emitMatmulKernel } from './kernel-matmul.ts';
import { emitRowKernel } from './kernel-row.ts';
import { emitScatterAddKernel } from './kernel-scatter-add.ts';
import type { Variant } from './linear-variants.ts';
import { gated, linearVariants } from './linear-variants.ts';

const ENTRY = '__arcticc_entry__';

export interface EmittedKernels {
  readonly modules: Record<string, string>;
  readonly kernels: PlanKernel[];
  readonly launches: PlanLaunch[];
}

/** The launches a scheduled kernel becomes: one, or a linear's size-gated GEMV and tensor-core pair. */
function variantsOf(s: Schedule, k: ScheduledKernel, maxDims: Readonly<Record<string, number>>, o: EmitOptions): Variant[] {
  // large static f32 contractions (training): the tiled GEMM
  const g = gemmShape(k);
  if (g) {
    const gemm: Variant = { kind: 'gemm', emit: (env) => emitGemmKernel(env, s, k, g, o.gemm) };
    return k.splitK ? [gemm, { kind: 'gemm_reduce', emit: (env) => emitSplitKReduce(env, s, k, g) }] : [gemm];
  }
  switch (k.kind) {
    case 'map': return [{ kind: k.kind, emit: (env) => emitMapKernel(env, s, k) }];
    case 'row': return [{ kind: k.kind, emit: (env) => emitRowKernel(env, s, k) }];
    case 'linear': return linearVariants(s, k, maxDims);
    case 'matmul': return [{ kind: k.kind, emit: (env) => emitMatmulKernel(env, s, k) }];
    case 'scatter': return [{ kind: 'kv_write', emit: (env) => emitScatterKernel(env, s, k) }];
    case 'attention': {
      // split over positions (attention-split.ts): chunk partials + combine, gated on N where the
      // one-launch kernel is planned too (N above the split's rows)
      // (and, with a long-chunk split for more rows, that pair between them)
      const one: Variant = { kind: 'attention', emit: (env) => emitAttentionKernel(env, s, k) };
      const sp = k.splitKv;
      if (!sp) return [one];
      const pair = (x: SplitKv): Variant[] => [
        { kind: 'attention_split', emit: (env) => emitAttentionKernel(env, s, k, x) },
        { kind: 'attention_combine', emit: (env) => emitAttentionCombine(env, s, k, x) },
      ];
      const last = k.splitKvMany ?? sp;
      if (!last.gated && !k.splitKvMany) return pair(sp);
      const N = [k.items[0].node.shape[0]];
      return [
        ...pair(sp).map((v) => ({ ...v, when: { dims: N, atMost: sp.rows } })),
        ...(k.splitKvMany ? pair(k.splitKvMany).map((v) => ({ ...v, when: { dims: N, atLeast: sp.rows + 1, atMost: k.splitKvMany!.rows } })) : []),
        ...(last.gated ? [{ ...one, when: { dims: N, atLeast: last.rows + 1 } }] : []),
      ];
    }
    case 'scatter_add': return [{ kind: k.kind, emit: (env) => emitScatterAddKernel(env, s, k) }];
  }
}

const describe = (k: ScheduledKernel): string =>
  `kernel ${k.index} (${k.kind} over [${k.shape.join(',')}]${k.axis === null ? '' : ` axis ${k.axis}`}: ${k.items.map((i) => i.node.toString()).join(', ')})`;

export interface EmitOptions {
  /** the tiled GEMM's arithmetic */
  readonly gemm: GemmMode;
}

export function emitKernels(s: Schedule, maxDims: Readonly<Record<string, number>>, prefix: string, o: EmitOptions = { gemm: gemmMode() }): EmittedKernels {
  const modules: Record<string, string> = {};
  const kernels: PlanKernel[] = [];
  const launches: PlanLaunch[] = [];
  const byText = new Map<string, PlanKernel>();
  for (const k of s.kernels) for (const v of variantsOf(s, k, maxDims, o)) {
    const env = new KernelEnv(maxDims);
    let shape: LaunchShape;
    try {
      shape = v.emit(env);
    } catch (e) {
      throw new Error(`codegen failed for ${describe(k)}: ${(e as Error).message}`, { cause: e });
    }
    const text = env.b.build(ENTRY, shape.block);
    let pk = byText.get(text);
    if (!pk) {
      const name = `${prefix}_${v.kind}${kernels.length}`;
      pk = { name, module: name, params: [...env.b.params], block: [shape.block, 1, 1], sharedBytes: 0 };
      modules[name] = text.replace(ENTRY, name);
      kernels.push(pk);
      byText.set(text, pk);
    }
    launches.push({ kernel: pk.name, args: env.args, grid: [gated(shape.grid[0], v.when), shape.grid[1], shape.grid[2]] });
  }
  return { modules, kernels, launches };
}
