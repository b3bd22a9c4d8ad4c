// An LSTM drafter written the textbook way: four separate gate projections per input (W_i, W_f, W_g, W_o on the
// state, U_i … U_o on the token embedding), as a user project writes one (importing arcticc/dsl). The
// gate-fusion pass turns each set of four linears into one projection over the row-concatenated weight
// (see it with `arcticc compile examples/drafters/lstm-gates-drafter.ts --out build/lstm --dump-after gate-fusion`);
// the loader builds that weight from the pass's derivation, so the checkpoint keeps the per-gate tensors.
import { defineProgram, embedding, rmsNorm, stack, unroll } from 'arcticc/dsl';
import type { DrafterOptions, Program } from 'arcticc/dsl';

export const defaults: DrafterOptions = {
  hiddenSize: 64, width: 32, vocabSize: 256, nPredict: 4, scaleInput: false, tieWeights: false,
  weightDtype: () => 'bf16', config: {},
};

export const GATES = ['i', 'f', 'g', 'o'] as const;

export function lstmGatesDrafter(o: DrafterOptions = defaults): Program {
  return defineProgram('lstm_gates_drafter', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => {
    const w = <const S extends readonly string[]>(n: string, shape: S) => p.param(n, shape, o.weightDtype(n));
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const inProj = w('in_proj.weight', ['D', 'H']);
    const W = GATES.map((g) => w(`W_${g}.weight`, ['D', 'D']));
    const U = GATES.map((g) => w(`U_${g}.weight`, ['D', 'D']));
    const emb = w('emb.weight', ['V', 'D']);
    const head = w('head.weight', ['V', 'D']);
    const h0 = rmsNorm(hidden.linear(inProj));
    const { ys } = unroll(o.nPredict, { h: h0, c: h0, t: tokens }, (s) => {
      const x = embedding(emb, s.t);
      const [i, f, g, out] = GATES.map((_, j) => s.h.linear(W[j]).add(x.linear(U[j])));
      const c = f.sigmoid().mul(s.c).add(i.sigmoid().mul(g.tanh()));
      const h = out.sigmoid().mul(c.tanh());
      const t = rmsNorm(h).linear(head).argmax(-1);
      return [{ h, c, t }, t] as const;
    });
    p.output('draft', stack(ys));
  });
}
