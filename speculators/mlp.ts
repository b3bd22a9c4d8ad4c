// Arctic MLP speculator (IBM MLPSpeculator math). Per step i:
// u = proj_i·s + α·emb_i(t); s = GELU(ln_i(u)); t = argmax(head_i·s).
// With tie_weights one emb/ln/head serve every step, proj.0 (H→D) stays separate and proj.1 serves steps ≥ 1.
import type { Program, Tensor } from '../dsl/index.ts';
import { defineProgram, embedding, rmsNorm, stack, unroll } from '../dsl/index.ts';
import type { SpeculatorShape } from './common.ts';
import { dtypeOf, firstState, mixAlpha } from './common.ts';

export interface MlpOptions extends SpeculatorShape {
  tieWeights: boolean;
}

/** The canonical weight names step i reads. */
export function mlpStepParams(o: Pick<MlpOptions, 'tieWeights'>, i: number) {
  const t = o.tieWeights ? 0 : i;
  const proj = o.tieWeights ? Math.min(i, 1) : i;
  return {
    emb: `emb.${t}.weight`, proj: `proj.${proj}.weight`, lnW: `ln.${t}.weight`, lnB: `ln.${t}.bias`, head: `head.${t}.weight`,
  };
}

/** The Arctic MLP speculator (IBM MLPSpeculator math) as a DSL program for the given sizes. */
export function mlpSpeculator(o: MlpOptions): Program {
  if (o.tieWeights && o.nPredict < 2) throw new Error('mlp speculator: tie_weights needs n_predict > 1');
  const alpha = mixAlpha(o.nPredict, o.width);
  return defineProgram('arctic_mlp', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => {
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const x0 = firstState(hidden, o.scaleInput);
    const w = <const S extends readonly string[]>(name: string, shape: S) => p.param(name, shape, dtypeOf(o, name));

    type Carry = { state: Tensor<readonly ['B', 'D'], 'f32'> | null; token: Tensor<readonly ['B'], 'i32'> };
    const { ys } = unroll(o.nPredict, { state: null, token: tokens } as Carry, (c, i) => {
      const n = mlpStepParams(o, i);
      const projected = i === 0 ? x0.linear(w(n.proj, ['D', 'H'])) : c.state!.linear(w(n.proj, ['D', 'D']));
      const u = projected.add(embedding(w(n.emb, ['V', 'D']), c.token).mul(alpha));
      const state = rmsNorm(u, { weight: w(n.lnW, ['D']), bias: w(n.lnB, ['D']) }).gelu();
      const token = state.linear(w(n.head, ['V', 'D'])).argmax(-1);
      return [{ state, token }, token] as const;
    });
    p.output('draft', stack(ys));
  });
}
