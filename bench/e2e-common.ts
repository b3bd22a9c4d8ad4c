// What bench/e2e.ts and bench/serve-bench.ts share: the fixture paths and device options, the workloads
// (code, repeat, and mixed: both interleaved, request by request), and each drafter's speculative config as
// a user writes it (Arctic drafts n_predict = 3; with suffix decoding num_speculative_tokens 15 leaves suffix
// drafts room, reference §3.3).
import { readFileSync } from 'node:fs';

export const COMMON_OPTIONS = {
  model: { type: 'string', default: 'tests/fixtures/target/pycode-small' },
  speculator: { type: 'string', default: 'tests/fixtures/target/pycode-small-lstm' },
  workloads: { type: 'string', default: 'tests/fixtures/target/data/workloads-dev.json' },
  device: { type: 'string', default: 'auto' },
} as const;

export type Workload = 'code' | 'repeat' | 'mixed';

export function workloadPrompts(file: string): Record<Workload, number[][]> {
  const w = JSON.parse(readFileSync(file, 'utf8')) as { code: { prompts: number[][] }; repeat: { prompts: number[][] } };
  return { code: w.code.prompts, repeat: w.repeat.prompts, mixed: w.code.prompts.flatMap((p, i) => [p, w.repeat.prompts[i]]) };
}

export function drafterConfigs(speculator: string): Record<string, object | null> {
  const arctic = (k: number) => ({ method: 'arctic', model: speculator, num_speculative_tokens: k });
  return {
    none: null, ngram: { method: 'ngram', num_speculative_tokens: 3 }, suffix: { method: 'suffix' },
    arctic: arctic(3), 'arctic+suffix': { ...arctic(15), enable_suffix_decoding: true },
  };
}

/** The --drafters list, each checked against the configs. */
export function pickDrafters(list: string, configs: Record<string, object | null>): string[] {
  const ds = list.split(',');
  for (const d of ds) if (!(d in configs)) throw new Error(`unknown drafter "${d}" (expected ${Object.keys(configs).join(', ')})`);
  return ds;
}
