// What a generation request is and how it ends, shared by every loop that drives a target.
import { TargetError } from './kv-slots.ts';
import type { TargetModel } from './target-model.ts';

export type FinishReason = 'stop' | 'length';

export interface GenerateOutput {
  readonly tokenIds: number[];
  readonly finishReason: FinishReason;
}

/** A prompt the target can run: non-empty, in the vocabulary, leaving room for output within max-model-len. */
export function checkPrompt(t: TargetModel, p: readonly number[], name: string): void {
  if (!Array.isArray(p) || p.length === 0) throw new TargetError(`${name}: empty (a prompt needs at least one token)`);
  if (p.length >= t.maxModelLen) throw new TargetError(`${name}: ${p.length} tokens leave no room for output within max-model-len ${t.maxModelLen}`);
  p.forEach((id, j) => {
    if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) throw new TargetError(`${name}: token ${j} is ${id}, outside the vocabulary [0, ${t.vocabSize})`);
  });
}

/** Every prompt checked before any is admitted, so a bad one in a list starts no work. */
export function validatePrompts(t: TargetModel, prompts: readonly (readonly number[])[]): void {
  if (prompts.length === 0) throw new TargetError('generate: no prompts');
  prompts.forEach((p, i) => checkPrompt(t, p, `prompt ${i}`));
}
