// A JSON-able description of a checkpoint folder for `arcticc inspect DIR`. Only headers and the pickle
// are read, so it is instant on multi-GB checkpoints, and config or mapping problems are reported in the
// result rather than thrown: a broken checkpoint is exactly what one inspects.
import fs from 'node:fs';
import type { SpeculatorConfig } from './config.ts';
import { planArcticWeights } from './arctic-weights.ts';
import { checkDir, openWeights, readConfig } from './open-weights.ts';
import type { LlamaConfig } from './llama-config.ts';
import { readLlamaConfig } from './load-llama.ts';
import { planLlamaWeights } from './llama-weights.ts';
import path from 'node:path';
import type { WeightFormat } from './open-weights.ts';

/** What `inspectCheckpoint` (and `arcticc inspect --json`) reports about a checkpoint folder. */
export interface CheckpointDescription {
  dir: string;
  format: WeightFormat;
  files: { path: string; bytes: number }[];
  config: SpeculatorConfig | null;
  /** a target model's config (a Hugging Face LlamaForCausalLM folder), when the folder holds one */
  target?: LlamaConfig | null;
  /** Every stored tensor: dtype is ours (bf16, ...) when we have one, sourceDtype as the file spells it. */
  tensors: { name: string; shape: number[]; dtype: string; sourceDtype: string; bytes: number; file: string }[];
  /** Stored names sharing one storage. */
  tied: string[][];
  /** Stored names that are tied copies of another stored tensor, per the config. */
  aliases: { name: string; of: string; why: string }[];
  /** Canonical parameters and the stored tensors each is built from (empty when there are problems). */
  params: { name: string; shape: number[]; dtype: string; from: string[] }[];
  /** Why the checkpoint would not load (config or weight mapping errors); empty when it loads. */
  problems: string[];
}

/** Describes a checkpoint folder from its headers only (instant on multi-GB files); config and mapping problems go into `problems` instead of being thrown. */
export function inspectCheckpoint(dir: string): CheckpointDescription {
  checkDir(dir);
  const problems: string[] = [];
  let config: SpeculatorConfig | null = null;
  let target: LlamaConfig | null = null;
  let configFile: string | null = null;
  const isTarget = declaresTarget(dir);
  try {
    if (isTarget) ({ config: target, file: configFile } = readLlamaConfig(dir));
    else ({ config, file: configFile } = readConfig(dir));
  } catch (e) {
    problems.push((e as Error).message);
  }
  const { set, format } = openWeights(dir);
  try {
    const desc: CheckpointDescription = {
      dir, format,
      files: [...(configFile !== null ? [configFile] : []), ...set.files].map((p) => ({ path: p, bytes: fs.statSync(p).size })),
      config,
      tensors: [...set.tensors.values()].map((t) => ({
        name: t.name, shape: [...t.shape], dtype: t.dtype ?? t.sourceDtype, sourceDtype: t.sourceDtype, bytes: t.byteLength, file: t.file,
      })),
      tied: set.tied, aliases: [], params: [], problems,
      ...(isTarget ? { target } : {}),
    };
    if (config !== null || target !== null) {
      try {
        const plan = target !== null ? planLlamaWeights(target, set.tensors, set.files[0]) : planArcticWeights(config!, set.tensors, set.files[0]);
        desc.aliases = plan.aliases.map((a) => ({ name: a.stored, of: a.ofStored, why: a.why }));
        desc.params = plan.params.map((p) => ({ name: p.name, shape: p.shape, dtype: p.dtype, from: p.parts.map((q) => q.stored) }));
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    return desc;
  } finally {
    set.close();
  }
}

/** Whether config.json names a target architecture (read leniently: a broken file is readConfig's to report). */
function declaresTarget(dir: string): boolean {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { architectures?: unknown; model_type?: unknown };
    const a = j.architectures;
    return (Array.isArray(a) ? a : [a]).includes('LlamaForCausalLM') || j.model_type === 'llama';
  } catch {
    return false;
  }
}
