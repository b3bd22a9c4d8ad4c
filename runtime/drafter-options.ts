// From a checkpoint's config.json to the DrafterOptions a user's drafter factory is called with.
// An Arctic LSTM/MLP config (it names a known architecture) gives the built-in speculators' sizes;
// anything else is read as a drafter config {hidden_size, width?, vocab_size, n_predict, ...}.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { FloatDType } from '../compiler/ir/dtype.ts';
import type { DrafterOptions } from '../dsl/index.ts';
import type { SpeculatorConfig } from './checkpoint/index.ts';
import { ARCHITECTURES, CheckpointError, openWeights, parseSpeculatorConfig } from './checkpoint/index.ts';

/** DrafterOptions plus the Arctic config they came from (null for a drafter config). */
export interface ResolvedDrafterOptions extends DrafterOptions {
  readonly arctic: SpeculatorConfig | null;
}

const DrafterConfig = z.looseObject({
  hidden_size: z.int().positive(),
  width: z.int().positive().optional(),
  vocab_size: z.int().positive(),
  n_predict: z.int().positive(),
  scale_input: z.boolean().default(false),
  tie_weights: z.boolean().default(false),
});

const isArctic = (json: Record<string, unknown>): boolean => {
  const a = json.architectures;
  return (Array.isArray(a) ? a : [a]).some((x) => typeof x === 'string' && x in ARCHITECTURES);
};

/** Options from a parsed config.json; `weightDtype` defaults every weight to bf16. */
export function drafterOptionsFromJson(json: unknown, file: string, weightDtype: (name: string) => FloatDType = () => 'bf16'): ResolvedDrafterOptions {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CheckpointError(file, 'expected a JSON object');
  const obj = json as Record<string, unknown>;
  if (isArctic(obj)) {
    const c = parseSpeculatorConfig(obj, file);
    return {
      hiddenSize: c.hiddenSize, width: c.width, vocabSize: c.vocabSize, nPredict: c.nPredict,
      scaleInput: c.scaleInput, tieWeights: c.tieWeights, weightDtype, config: obj, arctic: c,
    };
  }
  const r = DrafterConfig.safeParse(obj);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CheckpointError(file, `${i.message} (a drafter config needs hidden_size, vocab_size and n_predict; width, scale_input and tie_weights are optional)`, { field: String(i.path[0] ?? '') });
  }
  const c = r.data;
  return {
    hiddenSize: c.hidden_size, width: c.width ?? c.hidden_size, vocabSize: c.vocab_size, nPredict: c.n_predict,
    scaleInput: c.scale_input, tieWeights: c.tie_weights, weightDtype, config: obj, arctic: null,
  };
}

/** Options from a checkpoint folder: its config.json, and each weight's dtype as stored. */
export function drafterOptionsFromDir(dir: string): ResolvedDrafterOptions {
  const file = path.join(dir, 'config.json');
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { throw new CheckpointError(file, 'missing: a checkpoint needs a config.json next to its weights'); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new CheckpointError(file, `not valid JSON: ${(e as Error).message}`); }
  const dtypes = new Map<string, FloatDType>();
  const { set } = openWeights(dir);
  try {
    for (const t of set.tensors.values()) if (t.dtype === 'bf16' || t.dtype === 'f16' || t.dtype === 'f32') dtypes.set(t.name, t.dtype);
  } finally {
    set.close();
  }
  return drafterOptionsFromJson(json, file, (n) => dtypes.get(n) ?? 'bf16');
}
