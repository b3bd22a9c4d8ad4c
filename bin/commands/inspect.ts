// arcticc inspect DIR [--json]: config, tensors, shapes, dtypes, bytes, ties; exit 1 when it would not load.
import { z } from 'zod';
import type { CheckpointDescription } from '../../runtime/checkpoint/index.ts';
import { inspectCheckpoint } from '../../runtime/checkpoint/index.ts';
import type { Command, CommandContext } from './shared.ts';
import { parseOptions, printJson, UsageError } from './shared.ts';

const mb = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);

export function formatDescription(d: CheckpointDescription): string {
  const lines: string[] = [`checkpoint ${d.dir} (${d.format})`];
  for (const f of d.files) lines.push(`  file ${f.path}  ${mb(f.bytes)}`);
  if (d.config) {
    const c = d.config;
    lines.push('', `${c.kind.toUpperCase()} speculator (${c.architecture}, method ${c.method})`,
      `  H=${c.hiddenSize} D=${c.width} V=${c.vocabSize} n_predict=${c.nPredict} tie_weights=${c.tieWeights} scale_input=${c.scaleInput}${c.kind === 'lstm' ? ` tie_lstm_embs=${c.tieLstmEmbs}` : ''}`);
  }
  if (d.target) {
    const t = d.target;
    lines.push('', `target model (${t.architecture})`,
      `  hidden ${t.hiddenSize}, ${t.numLayers} layers, ${t.numHeads} heads / ${t.numKvHeads} KV heads, head_dim ${t.headDim}, intermediate ${t.intermediateSize}, vocab ${t.vocabSize}`,
      `  rms_norm_eps ${t.rmsNormEps}, rope ${t.rope.type} (theta ${t.rope.theta}${t.rope.type === 'llama3' ? `, factor ${t.rope.factor}` : ''}), tie_word_embeddings ${t.tieWordEmbeddings}, max_position_embeddings ${t.maxPositionEmbeddings}`);
  }
  lines.push('', 'stored tensors:');
  const w = Math.max(...d.tensors.map((t) => t.name.length), 4);
  for (const t of d.tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]  ${mb(t.bytes)}`);
  if (d.tied.length) lines.push('', 'sharing one storage:', ...d.tied.map((g) => `  ${g.join(' = ')}`));
  if (d.aliases.length) lines.push('', 'tied copies (per the config):', ...d.aliases.map((a) => `  ${a.name} -> ${a.of} (${a.why})`));
  if (d.params.length) lines.push('', 'parameters the compiled program binds:', ...d.params.map((p) => `  ${p.name} ${p.dtype} [${p.shape.join(', ')}] <- ${p.from.join(' + ')}`));
  lines.push('', d.problems.length ? `problems:\n${d.problems.map((p) => `  ${p}`).join('\n')}` : 'loads cleanly');
  return lines.join('\n');
}

export const usage = `usage: arcticc inspect DIR [--json]

Describe a speculator checkpoint, or a target model folder (Hugging Face LlamaForCausalLM), without loading its data: the config, every stored tensor (name, dtype,
shape, bytes, file), storages shared between names, tied copies, the parameters the compiled program
binds and what each is built from, and every problem that would stop a load.

      --json     print the description as JSON (problems in "problems")
  -h, --help     show this help

exit codes: 0 the checkpoint loads; 1 it lists problems that stop a load (the description is still
printed), or DIR is missing or unreadable; 2 usage

example:
  arcticc inspect tests/fixtures/speculators/lstm-tiny`;

async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const { values: o, positionals } = parseOptions('inspect', argv, {}, z.object({ json: z.boolean().default(false) }));
  if (positionals.length !== 1) throw new UsageError('inspect: expected one checkpoint folder, e.g. arcticc inspect DIR');
  const d = inspectCheckpoint(positionals[0]);
  if (o.json) printJson(ctx, d);
  else ctx.out(formatDescription(d));
  return d.problems.length ? 1 : 0;
}

export const command: Command = { usage, run };
