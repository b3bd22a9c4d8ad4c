// The execution plan: what the compiler hands the runtime. Kernels (PTX text), buffers, and an
// ordered list of launches whose arguments and grid sizes may depend on symbolic dims (e.g. B).
// Temporaries live in one arena laid out at compile time for the maximum dims (`maxDims`).
import type { DType } from '../ir/dtype.ts';
import type { Dim } from '../ir/shape.ts';

/** state: a donated program input (a KV cache) that a kv_write updates in place; it lives on the device across runs */
export type BufferKind = 'input' | 'param' | 'output' | 'temp' | 'state';

export interface PlanBuffer {
  readonly id: string;
  readonly dtype: DType;
  /** may hold symbolic dims; sized with `maxDims` when allocated */
  readonly shape: readonly Dim[];
  readonly kind: BufferKind;
  /** input/param/output name in the program (params: the canonical weight name) */
  readonly name?: string;
  /** temps: byte offset inside the arena (16-byte aligned) */
  readonly offset?: number;
}

export type ParamType = 'u64' | 'u32' | 'f32';
export interface KernelParam { readonly name: string; readonly type: ParamType }

export interface PlanKernel {
  /** the .entry name, unique within the plan */
  readonly name: string;
  /** key into `ExecutionPlan.modules` */
  readonly module: string;
  readonly params: readonly KernelParam[];
  readonly block: readonly [number, number, number];
  readonly sharedBytes: number;
}

/** A kernel argument: a buffer's device address, a dim's runtime value, or an immediate. */
export type LaunchArg =
  | { readonly buffer: string }
  | { readonly dim: string }
  | { readonly u32: number }
  | { readonly f32: number };

/**
 * One grid dimension: a constant, or ceil(product(dims) / per). `when` gates the launch on a size: the
 * dimension is 0 (the runtime skips the launch) unless atLeast ≤ Π when.dims ≤ atMost. Two variants of
 * one kernel (batch-1 GEMV, batched tensor-core linear) are both planned and each runs only at its sizes.
 */
export type GridExpr = number | {
  readonly ceilDiv: readonly [readonly Dim[], number];
  readonly when?: { readonly dims: readonly Dim[]; readonly atLeast?: number; readonly atMost?: number };
};

export interface PlanLaunch {
  readonly kernel: string;
  readonly args: readonly LaunchArg[];
  readonly grid: readonly [GridExpr, GridExpr, GridExpr];
}

/**
 * A donated input/output pair (docs/targets.md): the program input `input` and the output `output` (null
 * when the updated state is not returned) share the buffer `buffer` (kind 'state', static shape). The
 * runtime allocates it once, zero-fills it and never stages it from or to the host; neither name appears in
 * `inputs` or `outputs`.
 */
export interface PlanState {
  readonly input: string;
  readonly output: string | null;
  readonly buffer: string;
}

/**
 * A param the runtime makes from other params when it binds the weights (lm-head-certify's Ŵ, see
 * docs/certified-argmax.md): max_row_norm = max over rows n of |scale[n]|·‖weight[n, :]‖₂ (scale 1 without
 * one), computed in float64 and rounded up to f32, as the f32[1] param `name`. withDerivedWeights (derive-weights.ts) builds them.
 */
export interface PlanDerived {
  readonly name: string;
  readonly kind: 'max_row_norm';
  readonly weight: string;
  readonly scale?: string;
}

/** A compiled program: PTX modules, kernels, buffers, launches and the arena size; what the CUDA runtime executes. */
export interface ExecutionPlan {
  readonly name: string;
  /** the largest value each symbolic dim may take (sizes the arena and the input/output buffers) */
  readonly maxDims: Readonly<Record<string, number>>;
  /** module key → PTX text (.version 9.0, .target sm_90) */
  readonly modules: Readonly<Record<string, string>>;
  readonly kernels: readonly PlanKernel[];
  readonly buffers: readonly PlanBuffer[];
  readonly launches: readonly PlanLaunch[];
  readonly arenaBytes: number;
  /** input buffer ids in program signature order; outputs by name */
  readonly inputs: readonly string[];
  readonly outputs: readonly { readonly name: string; readonly buffer: string }[];
  /** donated state (absent or empty when the program has none) */
  readonly state?: readonly PlanState[];
  /** params derived from other params at upload (absent when none; PlanDerived) */
  readonly derived?: readonly PlanDerived[];
  readonly irHash: string;
  readonly compilerVersion: string;
}

export function evalGrid(g: GridExpr, dims: ReadonlyMap<string, number>): number {
  if (typeof g === 'number') return g;
  const product = (ds: readonly Dim[]): number => {
    let n = 1;
    for (const d of ds) {
      const v = typeof d === 'number' ? d : dims.get(d);
      if (v === undefined) throw new Error(`grid: dim "${d}" is not bound`);
      n *= v;
    }
    return n;
  };
  if (g.when) {
    const m = product(g.when.dims);
    if (m < (g.when.atLeast ?? 0) || m > (g.when.atMost ?? Infinity)) return 0;
  }
  const [ds, per] = g.ceilDiv;
  return Math.ceil(product(ds) / per);
}
