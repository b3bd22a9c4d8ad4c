// Pieces shared by the Arctic speculators (written against the DSL only).
import type { FloatDType, Tensor } from '../dsl/index.ts';
import { rmsNorm } from '../dsl/index.ts';

export interface SpeculatorShape {
  /** H: the target model's hidden size (the input to the first projection) */
  hiddenSize: number;
  /** D: the speculator's width */
  width: number;
  /** V: vocabulary size */
  vocabSize: number;
  /** n: draft tokens per proposal (n_predict) */
  nPredict: number;
  /** scale_input: ln0(h)/√2 before the first step */
  scaleInput: boolean;
  /** storage dtype of each weight, by canonical name (default bf16) */
  weightDtype?: (name: string) => FloatDType;
}

/**
 * α = emb_weight / state_weight with state_weight = 0.5^(0.5/n) and
 * emb_weight = √((1 − state_weight²)·D/2). The state is never scaled; the norm absorbs it.
 */
export function mixAlpha(nPredict: number, width: number): number {
  const stateWeight = 0.5 ** (0.5 / nPredict);
  const embWeight = Math.sqrt((1 - stateWeight * stateWeight) * (width / 2));
  return embWeight / stateWeight;
}

/** Step-0 input: the target's hidden state, or ln0(h)/√2 (RMS norm without affine) when scale_input. */
export function firstState<S extends readonly (number | string)[]>(hidden: Tensor<S, 'f32'>, scaleInput: boolean): Tensor<S, 'f32'> {
  return scaleInput ? rmsNorm(hidden).div(Math.SQRT2) : hidden;
}

export const dtypeOf = (s: SpeculatorShape, name: string): FloatDType => s.weightDtype?.(name) ?? 'bf16';
