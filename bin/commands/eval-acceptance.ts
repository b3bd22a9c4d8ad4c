// arcticc eval-acceptance --target DIR --speculator DIR --prompts FILE.json [--num-prompts N] [--device D] [--target-quantize none|fp8] [--draft-activations f32|bf16] [--json]
import { z } from 'zod';
import { ACTIVATION_MODES } from '../../models/llama.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import { loadTarget } from '../../runtime/target/target-model.ts';
import { TARGET_QUANTIZE_MODES } from '../../runtime/target/quantize-target.ts';
import { offlineAcceptance } from '../../runtime/train/acceptance.ts';
import type { Command, CommandContext } from './shared.ts';
import { InputError, parseOptions, printJson, readInputText } from './shared.ts';

const usage = `usage: arcticc eval-acceptance --target DIR --speculator DIR --prompts FILE.json [options]

Offline greedy acceptance length, as tests/fixtures/target/README.md defines it: the target continues each
prompt greedily for --gen-len tokens; at every generated position the speculator proposes from the hidden
state that produced the token and the token; AL = 1 + mean number of leading draft tokens that match.

options:
  --target DIR        the target (Hugging Face Llama folder)
  --speculator DIR    a speculator checkpoint (config.json + weights), e.g. an arcticc train export
  --program FILE.ts   the speculator's DSL file, when it is not a built-in Arctic LSTM/MLP
  --prompts FILE      {"prompts": number[][]}
  --num-prompts N     only the first N prompts (a CPU subset)
  --gen-len N         greedy tokens per prompt (default 256)
  --device D          cpu | cuda | auto (default auto)
  --target-quantize Q the target's weights: none (default) | fp8 (projections and an untied LM head in e4m3)
  --draft-activations A  the speculator's linear inputs: f32 (default) | bf16 (rounded to bf16, as a bf16
                      speculator computes; loadSpeculator's activations)
  --json              print {"acceptance_length", "per_position", "positions", "prompts"}

exit codes: 0 measured; 1 bad input (missing target or speculator, a bad prompts file, a speculator that
does not fit the target); 2 usage.

example:
  arcticc eval-acceptance --target tests/fixtures/target/pycode-small \\
    --speculator tests/fixtures/target/pycode-small-lstm --prompts tests/fixtures/target/data/dev-prompts.json
`;

const Options = z.object({
  target: z.string({ error: 'is required' }), speculator: z.string({ error: 'is required' }), prompts: z.string({ error: 'is required' }),
  program: z.string().optional(),
  'num-prompts': z.coerce.number().int().positive().optional(), 'gen-len': z.coerce.number().int().positive().default(256),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'), 'target-quantize': z.enum(TARGET_QUANTIZE_MODES).default('none'),
  'draft-activations': z.enum(ACTIVATION_MODES).default('f32'), json: z.boolean().default(false),
});

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const s = { type: 'string' } as const;
  const { values: o } = parseOptions('eval-acceptance', argv, { target: s, speculator: s, prompts: s, program: s, 'num-prompts': s, 'gen-len': s, device: s, 'target-quantize': s, 'draft-activations': s }, Options);
  let raw: unknown;
  try { raw = JSON.parse(await readInputText(o.prompts, ctx)); } catch (e) { throw new InputError(`${o.prompts}: not valid JSON: ${(e as Error).message}`); }
  const ps = (raw as { prompts?: unknown })?.prompts;
  if (!Array.isArray(ps) || ps.length === 0 || !ps.every((p) => Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x)))) {
    throw new InputError(`${o.prompts}: expected {"prompts": number[][]} with at least one non-empty prompt (other fields are ignored)`);
  }
  let prompts = ps as number[][];
  if (o['num-prompts']) prompts = prompts.slice(0, o['num-prompts']);
  const maxLen = Math.max(...prompts.map((p) => p.length)) + o['gen-len'];
  const target = await loadTarget({ model: o.target, device: o.device, maxModelLen: maxLen, maxNumSeqs: 64, maxBatchTokens: 8192, quantize: o['target-quantize'], quiet: o.json });
  const spec = await loadSpeculator({ model: o.speculator, device: o.device, maxBatch: 512, quiet: true, activations: o['draft-activations'], ...(o.program ? { program: o.program } : {}) });
  try {
    const t0 = performance.now();
    const r = await offlineAcceptance(target, spec, prompts, { genLen: o['gen-len'], onProgress: (d, n) => ctx.progress?.(`eval: ${d}/${n} prompts`) });
    ctx.progress?.(null);
    const ms = performance.now() - t0;
    if (o.json) { printJson(ctx, { acceptance_length: r.acceptanceLength, per_position: r.perPosition, positions: r.positions, prompts: r.prompts, ms, device: target.deviceDescription }); return; }
    ctx.out(`acceptance length ${r.acceptanceLength.toFixed(3)} over ${r.positions} positions of ${r.prompts} prompts (per position ${r.perPosition.map((x) => x.toFixed(3)).join(', ')}) in ${(ms / 1000).toFixed(1)} s`);
  } finally { spec.close(); target.close(); }
}

export const command: Command = { usage, run };
