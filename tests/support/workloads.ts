// The end-to-end workloads of the target fixture (data/workloads-dev.json): `code` (held-out windows) and
// `repeat` (a file's start followed by its first tokens again), plus the speculative configs we compare.
import { readFileSync } from 'node:fs';
import { SPECULATOR_DIR, TARGET_ROOT } from './target.ts';

export interface Workload { prompts: number[][]; max_new_tokens: number }

export function workloads(): { code: Workload; repeat: Workload } {
  return JSON.parse(readFileSync(`${TARGET_ROOT}data/workloads-dev.json`, 'utf8'));
}

/** none, n-gram, suffix, Arctic, Arctic + suffix, as the seed writes them */
export const DRAFTERS: readonly { name: string; config: object | undefined }[] = [
  { name: 'none', config: undefined },
  { name: 'ngram', config: { method: 'ngram', num_speculative_tokens: 3 } },
  { name: 'suffix', config: { method: 'suffix' } },
  { name: 'arctic', config: { method: 'arctic', model: SPECULATOR_DIR, num_speculative_tokens: 3 } },
  { name: 'arctic+suffix', config: { method: 'arctic', model: SPECULATOR_DIR, num_speculative_tokens: 15, enable_suffix_decoding: true } },
];
