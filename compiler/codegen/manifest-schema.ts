// The artifact manifest (manifest.json): the whole ExecutionPlan except the PTX bodies, which live in
// one .ptx file per module, listed with their sha256. Validated with zod when read back.
import { z } from 'zod';
import { DTYPES } from '../ir/dtype.ts';

export const MANIFEST_FORMAT = 'arcticc-plan';
export const MANIFEST_VERSION = 1;

const dim = z.union([z.int().nonnegative(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)]);
const ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier');
const u32 = z.int().min(0).max(0xffffffff);

const gridExpr = z.union([u32, z.strictObject({
  ceilDiv: z.tuple([z.array(dim), z.int().positive()]),
  when: z.strictObject({ dims: z.array(dim), atLeast: u32.optional(), atMost: u32.optional() }).optional(),
})]);

const launchArg = z.union([
  z.strictObject({ buffer: z.string().min(1) }),
  z.strictObject({ dim: ident }),
  z.strictObject({ u32 }),
  z.strictObject({ f32: z.number() }),
]);

export const ManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.literal(MANIFEST_VERSION),
  name: z.string().min(1),
  irHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest'),
  compilerVersion: z.string().min(1),
  maxDims: z.record(ident, z.int().positive()),
  arenaBytes: z.int().nonnegative(),
  modules: z.array(z.strictObject({
    key: ident,
    file: z.string().regex(/^[A-Za-z0-9_.-]+\.ptx$/, 'must be a plain .ptx file name'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })),
  kernels: z.array(z.strictObject({
    name: ident,
    module: ident,
    params: z.array(z.strictObject({ name: ident, type: z.enum(['u64', 'u32', 'f32']) })),
    block: z.tuple([z.int().positive(), z.int().positive(), z.int().positive()]),
    sharedBytes: z.int().nonnegative(),
  })),
  buffers: z.array(z.strictObject({
    id: z.string().min(1),
    dtype: z.enum(DTYPES),
    shape: z.array(dim),
    kind: z.enum(['input', 'param', 'output', 'temp', 'state']),
    name: z.string().min(1).optional(),
    offset: z.int().nonnegative().optional(),
  })),
  launches: z.array(z.strictObject({
    kernel: ident,
    args: z.array(launchArg),
    grid: z.tuple([gridExpr, gridExpr, gridExpr]),
  })),
  inputs: z.array(z.string().min(1)),
  outputs: z.array(z.strictObject({ name: z.string().min(1), buffer: z.string().min(1) })),
  /** donated inputs updated in place (absent when the program has none) */
  state: z.array(z.strictObject({ input: z.string().min(1), output: z.string().min(1).nullable(), buffer: z.string().min(1) })).optional(),
  /** params the runtime derives from other params at upload (the certified head's Ŵ; absent when none) */
  derived: z.array(z.strictObject({ name: z.string().min(1), kind: z.literal('max_row_norm'), weight: z.string().min(1), scale: z.string().min(1).optional() })).optional(),
  /** the textual IR (`--emit ir`), when written */
  ir: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
