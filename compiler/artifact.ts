// Compiled artifacts on disk: a folder with manifest.json (the plan without PTX bodies, zod-checked)
// and one .ptx file per module, plus the textual IR when asked (`--emit ir|ptx|all`). Reading one back
// validates the schema, every cross-reference and each module's sha256, and names the file and field
// of the first problem.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from './codegen/manifest-schema.ts';
import { MANIFEST_FORMAT, MANIFEST_VERSION, ManifestSchema } from './codegen/manifest-schema.ts';
import type { ExecutionPlan } from './codegen/plan.ts';
import { planProblems } from './codegen/plan-check.ts';

export const MANIFEST_FILE = 'manifest.json';

export class ArtifactError extends Error {
  override name = 'ArtifactError';
  readonly file: string;
  readonly field?: string;
  constructor(file: string, message: string, field?: string) {
    super(`${file}${field ? `: ${field}` : ''}: ${message}`);
    this.file = file;
    this.field = field;
  }
}

export type EmitKind = 'ir' | 'ptx' | 'all';

export interface ArtifactExtra {
  /** textual IR (printGraph) to store beside the plan */
  readonly ir?: string;
  /** what to write: the IR only, the plan (manifest + PTX) only, or both. Default: all that is given. */
  readonly emit?: EmitKind;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
/** The CLI's name for the textual IR (`--emit ir`). */
export const IR_FILE = 'graph.air';

/** Write the artifact folder; returns the file names written (relative to dir). */
export function writeArtifact(dir: string, plan: ExecutionPlan, extra: ArtifactExtra = {}): string[] {
  const emit = extra.emit ?? 'all';
  if (emit === 'ir' && extra.ir === undefined) throw new Error('writeArtifact: --emit ir needs the textual IR');
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const irFile = extra.ir !== undefined && emit !== 'ptx' ? IR_FILE : undefined;
  if (irFile) { writeFileSync(join(dir, irFile), extra.ir!); written.push(irFile); }
  if (emit === 'ir') return written;
  const modules = Object.keys(plan.modules).sort().map((key) => {
    const file = `${key}.ptx`;
    writeFileSync(join(dir, file), plan.modules[key]);
    written.push(file);
    return { key, file, sha256: sha256(plan.modules[key]) };
  });
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    name: plan.name,
    irHash: plan.irHash,
    compilerVersion: plan.compilerVersion,
    maxDims: { ...plan.maxDims },
    arenaBytes: plan.arenaBytes,
    modules,
    kernels: plan.kernels.map((k) => ({ ...k, params: k.params.map((p) => ({ ...p })), block: [...k.block] as [number, number, number] })),
    buffers: plan.buffers.map((b) => ({ ...b, shape: [...b.shape] })),
    launches: plan.launches.map((l) => ({ kernel: l.kernel, args: l.args.map((a) => ({ ...a })), grid: l.grid.map((g) => (typeof g === 'number' ? g : { ceilDiv: [[...g.ceilDiv[0]], g.ceilDiv[1]], ...(g.when ? { when: { ...g.when, dims: [...g.when.dims] } } : {}) })) as Manifest['launches'][number]['grid'] })),
    inputs: [...plan.inputs],
    outputs: plan.outputs.map((o) => ({ ...o })),
    ...(plan.state?.length ? { state: plan.state.map((x) => ({ ...x })) } : {}),
    ...(plan.derived?.length ? { derived: plan.derived.map((x) => ({ ...x })) } : {}),
    ...(irFile ? { ir: irFile } : {}),
  };
  const problems = planProblems(plan);
  if (problems.length) throw new Error(`writeArtifact: the plan is inconsistent: ${problems[0]}`);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  written.push(MANIFEST_FILE);
  return written;
}

function readText(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (e) {
    throw new ArtifactError(join(dir, file), `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

const fieldOf = (path: readonly PropertyKey[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(root)';

/** Read and validate an artifact folder back into an ExecutionPlan. */
export function readArtifact(dir: string): ExecutionPlan {
  const file = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readText(dir, MANIFEST_FILE));
  } catch (e) {
    if (e instanceof ArtifactError) throw e;
    throw new ArtifactError(file, `not valid JSON (${(e as Error).message})`);
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ArtifactError(file, issue.message, fieldOf(issue.path));
  }
  const m = r.data;
  const modules: Record<string, string> = {};
  m.modules.forEach((mod, i) => {
    if (mod.key in modules) throw new ArtifactError(file, `duplicate module "${mod.key}"`, `modules[${i}].key`);
    const text = readText(dir, mod.file);
    if (sha256(text) !== mod.sha256) throw new ArtifactError(join(dir, mod.file), `contents do not match the sha256 in ${MANIFEST_FILE} (modules[${i}].sha256)`);
    modules[mod.key] = text;
  });
  const plan: ExecutionPlan = {
    name: m.name,
    maxDims: m.maxDims,
    modules,
    kernels: m.kernels,
    buffers: m.buffers,
    launches: m.launches,
    arenaBytes: m.arenaBytes,
    inputs: m.inputs,
    outputs: m.outputs,
    ...(m.state?.length ? { state: m.state } : {}),
    ...(m.derived?.length ? { derived: m.derived } : {}),
    irHash: m.irHash,
    compilerVersion: m.compilerVersion,
  };
  const problems = planProblems(plan);
  if (problems.length) {
    const [field, ...rest] = problems[0].split(': ');
    throw new ArtifactError(file, rest.join(': '), field);
  }
  return plan;
}

/** The textual IR stored beside a plan, if the artifact has one. */
export function readArtifactIr(dir: string): string | undefined {
  const r = ManifestSchema.safeParse(JSON.parse(readText(dir, MANIFEST_FILE)));
  return r.success && r.data.ir ? readText(dir, r.data.ir) : undefined;
}
