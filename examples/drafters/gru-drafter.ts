// A custom draft architecture that is not in ArcticInference: a GRU-style recurrent drafter, written the
// way a user project writes one (importing arcticc/dsl). Try it:
//   arcticc compile examples/drafters/gru-drafter.ts --out build/gru --dump-after all
import { defineProgram, embedding, rmsNorm, stack, unroll } from 'arcticc/dsl';
import type { DrafterOptions, Program } from 'arcticc/dsl';

export const defaults: DrafterOptions = {
  hiddenSize: 64, width: 32, vocabSize: 256, nPredict: 4, scaleInput: false, tieWeights: false,
  weightDtype: () => 'bf16', config: {},
};

export function gruDrafter(o: DrafterOptions = defaults): Program {
  return defineProgram('gru_drafter', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => {
    const w = <const S extends readonly string[]>(n: string, shape: S) => p.param(n, shape, o.weightDtype(n));
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const inProj = w('in_proj.weight', ['D', 'H']);
    const wz = w('wz.weight', ['D', 'D']);
    const wh = w('wh.weight', ['D', 'D']);
    const emb = w('emb.weight', ['V', 'D']);
    const head = w('head.weight', ['V', 'D']);
    const s0 = rmsNorm(hidden.linear(inProj));
    const { ys } = unroll(o.nPredict, { s: s0, t: tokens }, (c) => {
      const x = embedding(emb, c.t);
      const z = c.s.linear(wz).add(x).sigmoid();          // update gate
      const cand = c.s.linear(wh).add(x).tanh();          // candidate state
      const s = z.mul(c.s).add(z.neg().add(1).mul(cand)); // s' = z·s + (1 − z)·cand
      const t = rmsNorm(s).linear(head).argmax(-1);
      return [{ s, t }, t] as const;
    });
    p.output('draft', stack(ys));
  });
}
