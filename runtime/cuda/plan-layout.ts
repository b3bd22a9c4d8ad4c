// Pure host-side logic of running a plan: batch buckets, dim binding, buffer sizes, weight checks and
// the padded-block copies between caller tensors and device-shaped staging. No driver calls here.
import type { ExecutionPlan, PlanBuffer } from '../../compiler/codegen/plan.ts';
import { itemSize } from '../../compiler/ir/dtype.ts';
import type { Dim } from '../../compiler/ir/shape.ts';
import { fmtShape } from '../../compiler/ir/shape.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { byteLength, numel } from '../../compiler/ir/tensor-data.ts';
import type { WeightData } from '../weight-data.ts';
import { isStreamed, weightByteLength } from '../weight-data.ts';

/**
 * ArcticInference's padding_size: m = next_pow2(b) / 4 (integer division); if m < 1 keep b, else round b
 * up to a multiple of m. So 1..4 stay, 5→6, 7→8, 9..12→12, 17..24→24, 33..48→48: at most 4 graphs per
 * power of two, and padding is under a third of the padded rows.
 */
export function paddingSize(b: number): number {
  if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch size must be a positive integer, got ${b}`);
  let p = 1;
  while (p < b) p *= 2;
  const m = Math.floor(p / 4);
  return m < 1 ? b : Math.ceil(b / m) * m;
}

/** The padded batch a graph is captured for, never above the buffers' capacity `cap`. */
export const bucketFor = (b: number, cap: number): number => Math.min(paddingSize(b), Math.max(b, cap));

export function resolveDims(shape: readonly Dim[], dims: Readonly<Record<string, number>>, what: string): number[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    const v = dims[d];
    if (v === undefined) throw new Error(`${what}: dimension "${d}" is not bound`);
    return v;
  });
}

export const bufferBytes = (b: PlanBuffer, dims: Readonly<Record<string, number>>): number =>
  numel(resolveDims(b.shape, dims, `buffer ${b.id}`)) * itemSize(b.dtype);

const label = (b: PlanBuffer): string => (b.name ? `"${b.name}"` : b.id);

/**
 * Checks every param buffer has its weight with the right dtype, shape and byte size, before anything is
 * allocated. Errors name the tensor and both shapes.
 */
export function checkWeights(plan: ExecutionPlan, weights: ReadonlyMap<string, WeightData>): void {
  const missing: string[] = [];
  for (const b of plan.buffers) {
    if (b.kind !== 'param') continue;
    if (!b.name) throw new Error(`plan ${plan.name}: param buffer ${b.id} has no weight name`);
    const t = weights.get(b.name);
    const want = `${b.dtype}${fmtShape(b.shape)}`;
    if (!t) { missing.push(`"${b.name}" (${want})`); continue; }
    if (t.dtype !== b.dtype) throw new TypeError(`weight "${b.name}": plan ${plan.name} expects ${want}, got dtype ${t.dtype}`);
    if (b.shape.some((d) => typeof d !== 'number')) throw new Error(`plan ${plan.name}: param ${label(b)} has a symbolic shape ${fmtShape(b.shape)}`);
    if (t.shape.length !== b.shape.length || t.shape.some((d, i) => d !== b.shape[i])) {
      throw new RangeError(`weight "${b.name}": plan ${plan.name} expects shape ${fmtShape(b.shape)}, got ${fmtShape(t.shape)}`);
    }
    const bytes = numel(b.shape as number[]) * itemSize(b.dtype);
    const held = weightByteLength(t);
    if ((!isStreamed(t) && byteLength(t) !== bytes) || held !== bytes) {
      throw new RangeError(`weight "${b.name}": ${want} needs ${bytes} bytes, its data holds ${held}`);
    }
  }
  if (missing.length) throw new Error(`plan ${plan.name}: missing weight${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
}

/** Binds the plan's symbolic dims from the caller's input shapes; checks dtypes, static dims and maxDims. */
export function bindInputs(plan: ExecutionPlan, inputs: Readonly<Record<string, Pick<HostTensor, 'dtype' | 'shape'>>>): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const id of plan.inputs) {
    const b = bufferById(plan, id);
    const name = b.name ?? id;
    const t = inputs[name];
    if (!t) throw new Error(`plan ${plan.name}: missing input "${name}" (${b.dtype}${fmtShape(b.shape)})`);
    if (t.dtype !== b.dtype) throw new TypeError(`input "${name}": expected ${b.dtype}${fmtShape(b.shape)}, got dtype ${t.dtype}`);
    if (t.shape.length !== b.shape.length) throw new RangeError(`input "${name}": expected shape ${fmtShape(b.shape)}, got ${fmtShape(t.shape)}`);
    b.shape.forEach((d, i) => {
      const actual = t.shape[i];
      if (typeof d === 'number') {
        if (d !== actual) throw new RangeError(`input "${name}": expected shape ${fmtShape(b.shape)}, got ${fmtShape(t.shape)}`);
        return;
      }
      if (dims[d] === undefined) dims[d] = actual;
      else if (dims[d] !== actual) throw new RangeError(`input "${name}": expected shape ${fmtShape(b.shape)} with ${d}=${dims[d]}, got ${fmtShape(t.shape)}`);
    });
  }
  for (const [d, v] of Object.entries(dims)) {
    const max = plan.maxDims[d];
    if (max === undefined) throw new Error(`plan ${plan.name}: dim "${d}" has no maxDims entry`);
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`dim ${d}=${v}: must be a positive integer`);
    if (v > max) throw new RangeError(`dim ${d}=${v} exceeds the plan's maximum ${d}=${max} (compile with a larger maxDims.${d}, or split the batch)`);
  }
  return dims;
}

// id → buffer per plan, built on first use (a run looks buffers up several times; a target plan has hundreds)
const byIdCache = new WeakMap<ExecutionPlan, { n: number; map: Map<string, PlanBuffer> }>();

export function bufferById(plan: ExecutionPlan, id: string): PlanBuffer {
  let c = byIdCache.get(plan);
  if (!c || c.n !== plan.buffers.length) {
    c = { n: plan.buffers.length, map: new Map() };
    for (const x of plan.buffers) if (!c.map.has(x.id)) c.map.set(x.id, x);
    byIdCache.set(plan, c);
  }
  let b = c.map.get(id);
  if (b !== undefined && b.id !== id) b = undefined;
  if (b === undefined) {
    // a plan edited in place since (tests build plans by hand): look again
    b = plan.buffers.find((x) => x.id === id);
    byIdCache.delete(plan);
  }
  if (!b) throw new Error(`plan ${plan.name}: no buffer "${id}"`);
  return b;
}

/**
 * Copies the row-major block `src` (shape `from`) into the corner of `dst` (shape `to`, each dim ≥ the
 * source's), leaving the rest of dst untouched; with from/to swapped it crops. Works on bytes.
 */
export function copyBlock(src: Uint8Array, from: readonly number[], dst: Uint8Array, to: readonly number[], elemBytes: number, crop = false): void {
  if (from.length !== to.length) throw new RangeError(`copyBlock: ranks differ (${fmtShape(from)} vs ${fmtShape(to)})`);
  const inner = crop ? to : from; // the block actually copied
  const rank = inner.length;
  if (rank === 0) { dst.set(src.subarray(0, elemBytes)); return; }
  // the same shape on both sides (no padding, no crop): one contiguous copy
  if (from.every((d, i) => d === to[i])) { const n = numel(from) * elemBytes; dst.set(src.subarray(0, n)); return; }
  const rowBytes = inner[rank - 1] * elemBytes;
  const rows = numel(inner.slice(0, -1));
  const strides = (s: readonly number[]): number[] => {
    const r = new Array<number>(s.length).fill(elemBytes);
    for (let i = s.length - 2; i >= 0; i--) r[i] = r[i + 1] * s[i + 1];
    return r;
  };
  const ss = strides(from), ds = strides(to);
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let so = 0, dof = 0;
    for (let k = 0; k < rank - 1; k++) { so += idx[k] * ss[k]; dof += idx[k] * ds[k]; }
    dst.set(src.subarray(so, so + rowBytes), dof);
    for (let k = rank - 2; k >= 0; k--) { if (++idx[k] < inner[k]) break; idx[k] = 0; }
  }
}

export const bytesOf = (t: HostTensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

