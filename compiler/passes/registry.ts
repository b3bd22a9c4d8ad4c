// The pass registry: every pass by its CLI name. Add a pass by writing <name>.ts and listing it here.
import bf16Activations from './bf16-activations.ts';
import canonicalize from './canonicalize.ts';
import foldConcatSlice from './fold-concat-slice.ts';
import fp8Matmul from './fp8-matmul.ts';
import gateFusion from './gate-fusion.ts';
import lmHeadArgmax from './lm-head-argmax.ts';
import lmHeadCertify from './lm-head-certify.ts';
import lmHeadTopk from './lm-head-topk.ts';
import type { Pass } from './pass.ts';
import simplify from './simplify.ts';

export type { Pass } from './pass.ts';

const ALL: readonly Pass<any>[] = [simplify, foldConcatSlice, canonicalize, gateFusion, fp8Matmul, bf16Activations, lmHeadArgmax, lmHeadTopk, lmHeadCertify];

export const PASSES: ReadonlyMap<string, Pass<any>> = new Map(ALL.map((p) => [p.name, p]));

/** The pass called `name`; the error lists every known pass. */
export function getPass(name: string): Pass<any> {
  const p = PASSES.get(name);
  if (!p) throw new Error(`unknown pass "${name}" (known passes: ${[...PASSES.keys()].join(', ')})`);
  return p;
}
