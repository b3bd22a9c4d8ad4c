// Arctic LSTM speculator, method "sum_lstm" (tied weights, one embedding tiled over the four gates).
// Per step i: P = projs[min(i,1)]·s; pre = P + α·[e,e,e,e]; f,in,o = σ(pre₀,₁,₂); ĉ = GELU(cell_ln(pre₃));
// c = f⊙c + in⊙ĉ (c starts at zero every call); s = o⊙GELU(state_ln(c)); token = argmax(head·s).
import type { Program, Tensor } from '../dsl/index.ts';
import { concat, defineProgram, embedding, rmsNorm, stack, unroll } from '../dsl/index.ts';
import type { SpeculatorShape } from './common.ts';
import { dtypeOf, firstState, mixAlpha } from './common.ts';

export type LstmOptions = SpeculatorShape;

/** Canonical weight names (the checkpoint loader concatenates the per-gate projections into projs.*). */
export const LSTM_PARAMS = {
  emb: 'forget_emb.0.weight', proj0: 'projs.0.weight', proj1: 'projs.1.weight',
  cellLnW: 'cell_ln.0.weight', cellLnB: 'cell_ln.0.bias', stateLnW: 'state_ln.0.weight', stateLnB: 'state_ln.0.bias',
  head: 'head.0.weight',
} as const;

/** The Arctic LSTM speculator (ArcticInference's `sum_lstm`) as a DSL program for the given sizes. */
export function lstmSpeculator(o: LstmOptions): Program {
  const alpha = mixAlpha(o.nPredict, o.width);
  const dims = { H: o.hiddenSize, D: o.width, G: 4 * o.width, V: o.vocabSize };
  return defineProgram('arctic_lstm', dims, (p) => {
    const w = <const S extends readonly string[]>(name: string, shape: S) => p.param(name, shape, dtypeOf(o, name));
    const N = LSTM_PARAMS;
    const emb = w(N.emb, ['V', 'D']);
    const proj0 = w(N.proj0, ['G', 'H']);
    const proj1 = w(N.proj1, ['G', 'D']);
    const cellLn = { weight: w(N.cellLnW, ['D']), bias: w(N.cellLnB, ['D']) };
    const stateLn = { weight: w(N.stateLnW, ['D']), bias: w(N.stateLnB, ['D']) };
    const head = w(N.head, ['V', 'D']);

    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const x0 = firstState(hidden, o.scaleInput);

    type Carry = { state: Tensor<readonly ['B', 'D'], 'f32'> | null; cell: Tensor<readonly ['B', 'D'], 'f32'> | null; token: Tensor<readonly ['B'], 'i32'> };
    const { ys } = unroll(o.nPredict, { state: null, cell: null, token: tokens } as Carry, (c, i) => {
      const gates = i === 0 ? x0.linear(proj0) : c.state!.linear(proj1);
      const e = embedding(emb, c.token);
      const pre = gates.add(concat([e, e, e, e], -1, 'G').mul(alpha));
      const [fPre, iPre, oPre, cPre] = pre.chunk(-1, 4, 'D');
      const candidate = rmsNorm(cPre, cellLn).gelu();
      const inGate = iPre.sigmoid().mul(candidate);
      const cell = c.cell ? fPre.sigmoid().mul(c.cell).add(inGate) : inGate;
      const state = oPre.sigmoid().mul(rmsNorm(cell, stateLn).gelu());
      const token = state.linear(head).argmax(-1);
      return [{ state, cell, token }, token] as const;
    });
    p.output('draft', stack(ys));
  });
}
