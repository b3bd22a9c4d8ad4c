// Access to the bundled target fixture (tests/fixtures/target, copied from shared/): pycode-small, its
// Arctic speculator, Hugging Face fp32 references and workloads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TARGET_ROOT = fileURLToPath(new URL('../fixtures/target/', import.meta.url));
export const TARGET_DIR = `${TARGET_ROOT}pycode-small`;
export const SPECULATOR_DIR = `${TARGET_ROOT}pycode-small-lstm`;

export interface ReferenceStep { top_ids: number[]; top_logits: number[]; margin: number }
export interface ReferenceCase {
  prompt: number[];
  greedy_fp32: number[];
  greedy_bf16_hf: number[];
  steps: ReferenceStep[];
  prompt_logits_top5: { pos: number; ids: number[]; logits: number[] }[];
  final_hidden_last: number[];
}

export function referenceCases(): ReferenceCase[] {
  return JSON.parse(readFileSync(`${TARGET_ROOT}data/reference-dev.json`, 'utf8')).cases;
}

export function devPrompts(): number[][] {
  return JSON.parse(readFileSync(`${TARGET_ROOT}data/dev-prompts.json`, 'utf8')).prompts;
}

/** Largest relative error of `got` against the reference logits of `ids` in one row. */
export function topLogitError(row: ArrayLike<number>, ids: readonly number[], want: readonly number[]): number {
  return Math.max(...ids.map((id, i) => Math.abs(row[id] - want[i]) / Math.max(Math.abs(want[i]), 1e-6)));
}
