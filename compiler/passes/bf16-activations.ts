// bf16-activations: round the f32 input of every linear to bf16, as a bf16 PyTorch or vLLM model computes
// (ArcticInference runs its speculators in the target's dtype). linear(x, W) with x : f32 becomes
//   linear(cast(cast(x, bf16), f32), W)
// The rounding is part of the graph, so the interpreter computes the same values and the compiled kernels
// stay exact against it. The tensor-core linear sees an input that is already bf16 and multiplies one bf16
// term per activation instead of three (kernel-linear-tc.ts): 3× less tensor work at B ≥ 5, where the three
// terms are the speculators' LM-head limiter. Not exact against the f32 program: a draft token can change
// where the top two logits are closer than the rounding moves them (docs/passes.md: bf16-activations).
import { z } from 'zod';
import type { Graph } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import { rewriteGraph } from '../ir/rewrite.ts';
import { definePass } from './pass.ts';

/** Whether every value of f32 node x is a bf16 (x = cast(y : bf16, f32), seen through reshapes and slices). */
export function bf16Exact(x: Node): boolean {
  let n = x;
  while (n.op === 'reshape' || n.op === 'slice') n = n.src[0];
  return n.op === 'cast' && n.dtype === 'f32' && n.src[0].dtype === 'bf16';
}

/** x rounded to bf16 and back to f32 (round to nearest even, as the interpreter's bf16 storage). */
export const roundToBf16 = (x: Node): Node => Node.make('cast', [Node.make('cast', [x], null, 'bf16')], null, 'f32');

export const Bf16ActivationsOptions = z.strictObject({});

/** The pass: every linear with an f32 input not already rounded reads that input rounded to bf16. */
export function bf16Activations(g: Graph): Graph {
  return rewriteGraph(g, [{
    name: 'linear-input-to-bf16', op: 'linear',
    match: (n) => {
      const [x, w] = n.src;
      return x.dtype !== 'f32' || bf16Exact(x) ? undefined : Node.make('linear', [roundToBf16(x), w], n.arg);
    },
  }], { name: 'bf16-activations' });
}

export default definePass({
  name: 'bf16-activations',
  summary: 'round every linear\'s f32 input to bf16 (a bf16 model\'s numerics; one tensor-core term instead of three)',
  description: [
    'Rewrites linear(x, W) with x : f32 into linear(cast(cast(x, bf16), f32), W), for every weight (bf16, fp8',
    'or f32; param or computed). Inputs already rounded to bf16 are left alone, so the pass is idempotent.',
    'Not exact against the f32 program: it is the numerics of a bf16 model (PyTorch, vLLM), which the',
    'interpreter then computes exactly. The tensor-core linear multiplies one bf16 term per activation for',
    'such an input instead of three. loadSpeculator({ activations: "bf16" }) and --activations bf16 run it.',
  ].join(' '),
  options: Bf16ActivationsOptions,
  run: bf16Activations,
});
