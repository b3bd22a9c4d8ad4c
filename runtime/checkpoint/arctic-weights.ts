// Stored tensors -> the canonical parameters of a compiled speculator. Planning looks only at names,
// dtypes and shapes, so every mismatch is reported before any tensor data is read; materializing then
// fills each parameter once (fused LSTM projections are read part by part into one buffer).
import type { DType } from '../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { AliasLayout, Dim } from './arctic-layout.ts';
import { arcticLayout } from './arctic-layout.ts';
import type { SpeculatorConfig } from './config.ts';
import { CheckpointError, fmtShape } from './errors.ts';
import { WEIGHT_DTYPES, bytesOf } from './raw-tensor.ts';

/** What planning needs to know of a stored tensor (a HostTensor or a RawTensor both qualify). */
export interface TensorMeta {
  readonly dtype: DType | null;
  readonly sourceDtype?: string;
  readonly shape: readonly number[];
  /** The file holding it, when it differs from the one errors name by default (shards). */
  readonly file?: string;
}

export interface PlannedParam {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: number[];
  /** Stored names, concatenated along dim 0 in this order, with each part's size in bytes. */
  readonly parts: readonly { readonly stored: string; readonly byteLength: number }[];
}

export interface PlannedAlias extends AliasLayout {
  readonly stored: string;
  readonly ofStored: string;
}

export interface WeightPlan {
  readonly params: readonly PlannedParam[];
  /** Aliases present in the checkpoint; their values must equal their target's. */
  readonly aliases: readonly PlannedAlias[];
}

const PREFIX = 'speculator.';
const ALIAS_CHUNK = 16 << 20;
const itemBytes = (d: DType): number => (d === 'f32' ? 4 : 2);
const elems = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Bare name (without the training wrapper's "speculator." prefix) -> stored name. */
function bareNames(metas: ReadonlyMap<string, TensorMeta>, file: string): Map<string, string> {
  const bare = new Map<string, string>();
  for (const name of metas.keys()) {
    const b = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name;
    if (bare.has(b)) throw new CheckpointError(file, `stored twice, as ${bare.get(b)} and ${name}`, { tensor: b });
    bare.set(b, name);
  }
  return bare;
}

function checkTensor(defaultFile: string, stored: string, meta: TensorMeta, dims: readonly Dim[]): DType {
  const site = { tensor: stored };
  const file = meta.file ?? defaultFile;
  if (meta.dtype === null || !WEIGHT_DTYPES.includes(meta.dtype)) {
    throw new CheckpointError(file, `expected a float dtype (bf16, f16 or f32), found ${meta.sourceDtype ?? meta.dtype}`, site);
  }
  const want = dims.map((d) => d.size);
  if (meta.shape.length !== want.length || meta.shape.some((s, i) => s !== want[i])) {
    const off = dims.filter((d, i) => meta.shape.length === want.length && meta.shape[i] !== d.size);
    const hint = off.map((d) => `${d.from} is ${d.size}`).join(', ');
    throw new CheckpointError(file, `expected ${fmtShape(want)}, found ${fmtShape(meta.shape)}${hint ? ` (config ${hint}; config and weights disagree)` : ''}`, site);
  }
  return meta.dtype;
}

/** Check every stored tensor against the config and decide where each canonical parameter comes from. */
export function planArcticWeights(config: SpeculatorConfig, metas: ReadonlyMap<string, TensorMeta>, file: string): WeightPlan {
  if (config.kind === 'lstm' && !config.tieLstmEmbs) {
    throw new CheckpointError(file, 'false is not supported (sum_lstm with separate input/cell/output embeddings); expected true', { field: 'tie_lstm_embs' });
  }
  const bare = bareNames(metas, file);
  const used = new Set<string>();
  const use = (b: string): { stored: string; meta: TensorMeta } => {
    const stored = bare.get(b) as string;
    used.add(stored);
    return { stored, meta: metas.get(stored) as TensorMeta };
  };
  const layout = arcticLayout(config);
  const params: PlannedParam[] = layout.params.map((p) => {
    const shape = p.dims.map((d) => d.size);
    const sources = p.parts === undefined || bare.has(p.name) ? [{ name: p.name, dims: p.dims }] : p.parts;
    let dtype: DType | undefined;
    let first = '';
    const parts = sources.map((s) => {
      if (!bare.has(s.name)) {
        const alt = s.name === p.name ? '' : `, or the fused ${p.name} ${fmtShape(shape)}`;
        throw new CheckpointError(file, `missing (expected ${fmtShape(s.dims.map((d) => d.size))}${alt})`, { tensor: s.name });
      }
      const { stored, meta } = use(s.name);
      const d = checkTensor(file, stored, meta, s.dims);
      if (dtype !== undefined && d !== dtype) throw new CheckpointError(file, `dtype ${d} differs from ${first} (${dtype})`, { tensor: stored });
      if (dtype === undefined) first = stored;
      dtype = d;
      return { stored, byteLength: elems(meta.shape) * itemBytes(d) };
    });
    return { name: p.name, dtype: dtype as DType, shape, parts };
  });
  const aliases: PlannedAlias[] = layout.aliases.filter((a) => bare.has(a.name)).map((a) => {
    const { stored, meta } = use(a.name);
    const ofStored = bare.get(a.of) as string;
    const target = metas.get(ofStored) as TensorMeta;
    if (meta.dtype !== target.dtype || fmtShape(meta.shape) !== fmtShape(target.shape)) {
      throw new CheckpointError(file, `tied to ${ofStored} by ${a.why}, but is ${meta.sourceDtype ?? meta.dtype} ${fmtShape(meta.shape)} `
        + `while ${ofStored} is ${target.sourceDtype ?? target.dtype} ${fmtShape(target.shape)}`, { tensor: stored });
    }
    return { ...a, stored, ofStored };
  });
  const extra = [...metas.keys()].filter((n) => !used.has(n));
  if (extra.length > 0) {
    const shown = extra.slice(0, 12).join(', ') + (extra.length > 12 ? `, ... (${extra.length} in all)` : '');
    throw new CheckpointError(file, `unexpected tensors for this ${config.method} speculator (n_predict ${config.nPredict}, tie_weights ${config.tieWeights}): ${shown}`, { tensor: extra[0] });
  }
  return { params, aliases };
}

/** Where materialize gets bytes: reads by stored name, plus optional shortcuts. */
export interface TensorSource {
  /** Fill dst with the stored tensor's bytes from byte `offset` on. */
  read(stored: string, dst: Uint8Array, offset: number): void;
  /** True when two stored names are known to be the same bytes (tied storage), so no comparison is needed. */
  shares?(a: string, b: string): boolean;
  /** An existing tensor to hand out as is, instead of copying a single-part parameter. */
  take?(stored: string): HostTensor | undefined;
}

/** Build every planned parameter and verify every alias; throws (returning nothing) on any mismatch. */
export function materialize(plan: WeightPlan, src: TensorSource, file: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const p of plan.params) {
    const existing = p.parts.length === 1 ? src.take?.(p.parts[0].stored) : undefined;
    if (existing !== undefined) { out.set(p.name, existing); continue; }
    const t = hostTensor(p.dtype, p.shape);
    const bytes = bytesOf(t);
    let at = 0;
    for (const part of p.parts) {
      src.read(part.stored, bytes.subarray(at, at + part.byteLength), 0);
      at += part.byteLength;
    }
    out.set(p.name, t);
  }
  for (const a of plan.aliases) {
    if (src.shares?.(a.stored, a.ofStored)) continue;
    // Compared chunk by chunk: a stored copy of a 1 GB embedding must not need another 1 GB.
    const target = bytesOf(out.get(a.of) as HostTensor);
    const chunk = new Uint8Array(Math.min(ALIAS_CHUNK, target.byteLength));
    for (let at = 0; at < target.byteLength; at += chunk.byteLength) {
      const n = Math.min(chunk.byteLength, target.byteLength - at);
      src.read(a.stored, chunk.subarray(0, n), at);
      if (Buffer.compare(chunk.subarray(0, n), target.subarray(at, at + n)) !== 0) {
        throw new CheckpointError(file, `should be tied to ${a.ofStored} (${a.why} is true in the config) but its values differ`, { tensor: a.stored });
      }
    }
  }
  return out;
}

/** Map in-memory stored tensors to exactly the canonical parameters of `config` (see expectedParams). */
export function mapArcticWeights(config: SpeculatorConfig, raw: ReadonlyMap<string, HostTensor>, file: string): Map<string, HostTensor> {
  const plan = planArcticWeights(config, raw, file);
  const get = (n: string): HostTensor => raw.get(n) as HostTensor;
  return materialize(plan, {
    read: (n, dst, offset) => dst.set(bytesOf(get(n)).subarray(offset, offset + dst.byteLength)),
    shares: (a, b) => get(a).data === get(b).data,
    take: get,
  }, file);
}
