// Access to the bundled target fixture (tests/fixtures/target, copied from shared/): pycode-small, its
// Arctic speculator, Hugging Face fp32 references and workloads.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { TargetModel } from '../../runtime/target/target-model.ts';

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

/**
 * All cases prefilled in one pass on `target`: prompt-position top-5 logits within 1e-3 relative and the
 * final hidden state of the last prompt position within 1e-4 of its largest magnitude (the bounds).
 */
export async function expectPromptReference(target: TargetModel, cases: readonly ReferenceCase[]): Promise<void> {
  const seqs = cases.map((_, i) => target.newSequence(`case ${i}`));
  try {
    const res = await target.forward(cases.map((c, i) => ({ seq: seqs[i], tokens: c.prompt, want: 'all' as const })), { logits: true });
    const V = target.vocabSize, H = target.hiddenSize;
    cases.forEach((c, i) => {
      for (const p of c.prompt_logits_top5) {
        expect(topLogitError(res[i].logits!.subarray(p.pos * V, (p.pos + 1) * V), p.ids, p.logits), `case ${i} position ${p.pos}`).toBeLessThan(1e-3);
      }
      const last = res[i].hidden.subarray((c.prompt.length - 1) * H, c.prompt.length * H);
      const scale = Math.max(...c.final_hidden_last.map(Math.abs));
      expect(Math.max(...c.final_hidden_last.map((v, j) => Math.abs(v - last[j]))) / scale, `case ${i} final hidden`).toBeLessThan(1e-4);
    });
  } finally {
    for (const s of seqs) s.close();
  }
}
