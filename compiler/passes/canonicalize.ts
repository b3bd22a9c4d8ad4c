// canonicalize: simplify and fold-concat-slice together, to one joint fixpoint (each can expose work for
// the other: a folded slice leaves a constant to fold, a removed cast pair exposes a concat).
// There are no dce or cse passes: graphs hold only what the outputs reach, and interning makes
// structurally equal nodes one object, so both happen on every rebuild.
import { z } from 'zod';
import type { RuleTable } from '../ir/rewrite.ts';
import { rewriteGraph } from '../ir/rewrite.ts';
import { foldConcatSliceRules } from './fold-concat-slice.ts';
import { definePass } from './pass.ts';
import { SIMPLIFY_TABLE } from './simplify.ts';

export const canonicalRules = (pushdown: boolean): RuleTable => [...new Set([...SIMPLIFY_TABLE, ...foldConcatSliceRules({ pushdown })])];

export default definePass({
  name: 'canonicalize',
  summary: 'simplify + fold-concat-slice to a joint fixpoint (dead code and duplicates vanish by interning)',
  description: [
    'Runs the rules of simplify and fold-concat-slice as one table until nothing matches. Dead-code',
    'elimination and CSE need no pass: a graph is what its outputs reach, and equal nodes are interned.',
  ].join(' '),
  options: z.strictObject({
    pushdown: z.boolean().default(true),
    maxIterations: z.number().int().positive().default(8),
  }),
  stage: 'canonical',
  run: (g, o) => rewriteGraph(g, canonicalRules(o.pushdown), { name: 'canonicalize', maxIterations: o.maxIterations }),
});
