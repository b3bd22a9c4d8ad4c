// fold-concat-slice: stop materialising concatenations that are only sliced back apart. The Arctic LSTM
// adds α·[e,e,e,e] (one embedding tiled over the four gates) to the gate projection and then cuts the
// sum into four gates; pushing each gate's slice through the add and the mul onto the concat leaves
// gate_k = slice_k(P) + α·e, so the [B,4D] tiled tensor never exists and α·e is computed once.
// This is not gate fusion: fusing the gates into one kernel is the code generator's job.
import { z } from 'zod';
import type { Node } from '../ir/node.ts';
import { ELEMENTWISE } from '../ir/ops.ts';
import type { Rule, RuleTable } from '../ir/rewrite.ts';
import { rewriteGraph } from '../ir/rewrite.ts';
import { definePass } from './pass.ts';
import type { SliceArgs } from './patterns.ts';
import { makeSlice, sliceArgs, sliceConcat } from './patterns.ts';
import { CONST_MOVEMENT } from './simplify.ts';

/** Whether slicing x along s reaches a concat that the slice folds, through elementwise ops only. */
function foldsUnderSlice(x: Node, s: SliceArgs, depth: number): boolean {
  if (x.op === 'concat') return sliceConcat(x, s) !== undefined;
  if (depth === 0 || !ELEMENTWISE.has(x.op)) return false;
  return x.src.some((y) => foldsUnderSlice(y, s, depth - 1));
}

export const SLICE_OF_CONCAT: Rule = {
  name: 'slice-of-concat', op: 'slice',
  match: (n) => sliceConcat(n.src[0], sliceArgs(n)),
};

/**
 * slice(f(a, b, ...)) → f(slice(a), slice(b), ...) for elementwise f, when some operand chain ends in a
 * concat the slice folds. If the unsliced f(...) has other users it is still computed for them, so the
 * pass can duplicate elementwise work; in the speculators every user of those sums is a slice.
 */
export const SLICE_THROUGH_ELEMENTWISE: Rule = {
  name: 'slice-through-elementwise', op: 'slice',
  match: (n) => {
    const x = n.src[0], s = sliceArgs(n);
    if (!ELEMENTWISE.has(x.op) || !foldsUnderSlice(x, s, 8)) return undefined;
    return x.withSrc(x.src.map((y) => makeSlice(y, s.axis, s.start, s.end)));
  },
};

export const foldConcatSliceRules = (o: { pushdown: boolean }): RuleTable =>
  o.pushdown ? [SLICE_OF_CONCAT, CONST_MOVEMENT, SLICE_THROUGH_ELEMENTWISE] : [SLICE_OF_CONCAT, CONST_MOVEMENT];

export default definePass({
  name: 'fold-concat-slice',
  summary: 'fold slices of concats into the concat operands, pushing slices through elementwise ops',
  description: [
    'A slice of a concat along the concat axis becomes the operand it lies in (or a slice of it), or a',
    'narrower concat when it covers a run of whole operands. With pushdown (default), a slice of an',
    'elementwise op is moved onto its operands when one of them leads to such a concat, and slices of',
    'constants become smaller constants. Removes the tiled-embedding concat of the LSTM speculator.',
    'Exact (pure data movement). Elementwise work is duplicated if the unsliced value has other users.',
  ].join(' '),
  options: z.strictObject({ pushdown: z.boolean().default(true) }),
  stage: 'concat-slice-folded',
  run: (g, o) => rewriteGraph(g, foldConcatSliceRules(o), { name: 'fold-concat-slice' }),
});
