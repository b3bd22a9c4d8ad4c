// A tree-draft drafter: n heads, each proposing its top-k tokens (ArcticInference's top_k_tokens_per_head > 1),
// written as a user project writes one (importing arcticc/dsl). `draft` is [B, n·k]: head j's k candidates,
// best first (ties to the lowest token id), at columns j·k … j·k+k−1; the next head continues from the best.
// Each head's top-k is fused into its LM-head linear by the lm-head-topk pass (the logits are never stored):
//   arcticc compile examples/drafters/topk-heads-drafter.ts --out build/tree --dump-after lm-head-topk
import { concat, defineProgram, embedding, rmsNorm, unroll } from 'arcticc/dsl';
import type { DrafterOptions, Program } from 'arcticc/dsl';

export const defaults: DrafterOptions = {
  hiddenSize: 64, width: 32, vocabSize: 256, nPredict: 3, scaleInput: false, tieWeights: false,
  weightDtype: () => 'bf16', config: {},
};

/** Candidates per head. */
export const TOP_K = 4;

export function topkHeadsDrafter(o: DrafterOptions = defaults, k: number = TOP_K): Program {
  return defineProgram('topk_heads_drafter', { H: o.hiddenSize, D: o.width, V: o.vocabSize, T: o.nPredict * k }, (p) => {
    const w = <const S extends readonly string[]>(n: string, shape: S) => p.param(n, shape, o.weightDtype(n));
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const inProj = w('in_proj.weight', ['D', 'H']);
    const mix = w('mix.weight', ['D', 'D']);
    const emb = w('emb.weight', ['V', 'D']);
    const head = w('head.weight', ['V', 'D']);
    const s0 = rmsNorm(hidden.linear(inProj));
    const { ys } = unroll(o.nPredict, { s: s0, t: tokens }, (c) => {
      const s = c.s.linear(mix).add(embedding(emb, c.t)).gelu();
      const { indices } = rmsNorm(s).linear(head).topk(k);
      const best = indices.slice(-1, 0, 1, 1).reshape(['B']);
      return [{ s, t: best }, indices] as const;
    });
    p.output('draft', concat(ys, -1, 'T'));
  });
}
