// Which parameters an Arctic speculator has for a given config: the canonical names the compiled programs
// bind, where each one comes from in a stored checkpoint, and which stored names are mere aliases of it.
import type { SpeculatorConfig } from './config.ts';

/** An expected dimension and the config field it comes from, for "config and weights disagree" messages. */
export interface Dim {
  readonly size: number;
  readonly from: string;
}

export interface ParamLayout {
  /** Canonical name, as the compiled speculator programs use it. */
  readonly name: string;
  readonly dims: readonly Dim[];
  /**
   * For fused LSTM projections: stored parts concatenated along dim 0, in this order. A checkpoint
   * that already stores the fused (inference-format) tensor under `name` is accepted too.
   */
  readonly parts?: readonly { readonly name: string; readonly dims: readonly Dim[] }[];
}

/** A stored name that must hold the same values as `of` (a tied copy); it may be absent. */
export interface AliasLayout {
  readonly name: string;
  readonly of: string;
  readonly why: string;
}

export interface ArcticLayout {
  readonly params: readonly ParamLayout[];
  readonly aliases: readonly AliasLayout[];
}

/** The sum_lstm gate order of the fused projections (ArcticInference's load_weights). */
export const LSTM_GATES = ['forget', 'input', 'output', 'cell'] as const;

const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

function dims(c: SpeculatorConfig): { V: Dim; D: Dim; H: Dim; D4: Dim } {
  const lstm = c.kind === 'lstm';
  return {
    V: { size: c.vocabSize, from: 'vocab_size' },
    D: { size: c.width, from: lstm ? 'proj_dim' : 'inner_dim' },
    H: { size: c.hiddenSize, from: lstm ? 'input_hidden_dim' : 'emb_dim' },
    D4: { size: 4 * c.width, from: `4 x ${lstm ? 'proj_dim' : 'inner_dim'}` },
  };
}

function lstmLayout(c: SpeculatorConfig): ArcticLayout {
  const { V, D, H, D4 } = dims(c);
  const fused = (stage: 0 | 1, input: Dim): ParamLayout => ({
    name: `projs.${stage}.weight`, dims: [D4, input],
    parts: LSTM_GATES.map((g) => ({ name: `${g}_proj.${stage}.weight`, dims: [D, input] })),
  });
  const params: ParamLayout[] = [
    { name: 'forget_emb.0.weight', dims: [V, D] },
    fused(0, H),
    fused(1, D),
    ...['cell_ln', 'state_ln'].flatMap((ln) => [{ name: `${ln}.0.weight`, dims: [D] }, { name: `${ln}.0.bias`, dims: [D] }]),
    { name: 'head.0.weight', dims: [V, D] },
  ];
  const aliases: AliasLayout[] = [
    ...['input_emb', 'cell_emb', 'output_emb'].map((e) => ({ name: `${e}.0.weight`, of: 'forget_emb.0.weight', why: 'tie_lstm_embs' })),
    ...range(1, c.nPredict).map((i) => ({ name: `head.${i}.weight`, of: 'head.0.weight', why: 'tie_weights' })),
  ];
  return { params, aliases };
}

function mlpLayout(c: SpeculatorConfig): ArcticLayout {
  const { V, D, H } = dims(c);
  // Tied: one emb/ln/head for all steps, proj.0 for step 0 and proj.1 shared by every later step.
  const own = c.tieWeights ? [0] : range(0, c.nPredict);
  const projs = c.tieWeights ? [0, 1] : range(0, c.nPredict);
  const params: ParamLayout[] = [
    ...own.map((i) => ({ name: `emb.${i}.weight`, dims: [V, D] })),
    ...projs.map((i) => ({ name: `proj.${i}.weight`, dims: [D, i === 0 ? H : D] })),
    ...own.flatMap((i) => [{ name: `ln.${i}.weight`, dims: [D] }, { name: `ln.${i}.bias`, dims: [D] }]),
    ...own.map((i) => ({ name: `head.${i}.weight`, dims: [V, D] })),
  ];
  const aliases: AliasLayout[] = !c.tieWeights ? [] : [
    ...range(1, c.nPredict).flatMap((i) => ['emb.#.weight', 'ln.#.weight', 'ln.#.bias', 'head.#.weight']
      .map((p) => ({ name: p.replace('#', String(i)), of: p.replace('#', '0'), why: 'tie_weights' }))),
    ...range(2, c.nPredict).map((i) => ({ name: `proj.${i}.weight`, of: 'proj.1.weight', why: 'tie_weights' })),
  ];
  return { params, aliases };
}

export function arcticLayout(c: SpeculatorConfig): ArcticLayout {
  return c.kind === 'lstm' ? lstmLayout(c) : mlpLayout(c);
}

/** The canonical parameter names and shapes a compiled speculator for this config binds. */
export function expectedParams(config: SpeculatorConfig): { name: string; shape: number[] }[] {
  return arcticLayout(config).params.map((p) => ({ name: p.name, shape: p.dims.map((d) => d.size) }));
}
