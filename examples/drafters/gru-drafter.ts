// A custom draft architecture that is not in ArcticInference: a GRU-style recurrent drafter.
// Compile it with `arcticc compile examples/drafters/gru-drafter.ts --out build/gru --emit all`.
import { defineProgram, embedding, rmsNorm, stack, unroll } from '../../dsl/index.ts';
import type { Program } from '../../dsl/index.ts';

export interface GruOptions { hiddenSize: number; width: number; vocabSize: number; nPredict: number }

export function gruDrafter(o: GruOptions = { hiddenSize: 64, width: 32, vocabSize: 256, nPredict: 4 }): Program {
  return defineProgram('gru_drafter', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => {
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const inProj = p.param('in_proj.weight', ['D', 'H'], 'bf16');
    const wz = p.param('wz.weight', ['D', 'D'], 'bf16');
    const wh = p.param('wh.weight', ['D', 'D'], 'bf16');
    const emb = p.param('emb.weight', ['V', 'D'], 'bf16');
    const head = p.param('head.weight', ['V', 'D'], 'bf16');
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
