// arcticc generate --model DIR (--prompt TEXT | --prompt-ids FILE.json) [--max-new-tokens N] [--temperature T]
//   [--top-k K] [--top-p P] [--seed S] [--speculative-config JSON] [--device cpu|cuda|auto] [--max-model-len N]
//   [--max-num-seqs N] [--quantize none|fp8] [--activations f32|bf16] [--suffix-updates off|global|all]
//   [--hybrid-bar measured|n_predict] [--json]
import { z } from 'zod';
import { ACTIVATION_MODES } from '../../models/llama.ts';
import { DEFAULT_HYBRID_BAR, DEFAULT_SUFFIX_UPDATES, loadEngine } from '../../runtime/engine/load-engine.ts';
import { DEFER_MODES } from '../../runtime/decoding/suffix-cache.ts';
import { HYBRID_BARS } from '../../runtime/decoding/hybrid-proposer.ts';
import { TARGET_QUANTIZE_MODES } from '../../runtime/target/quantize-target.ts';
import { Tokenizer } from '../../runtime/tokenizer/index.ts';
import type { Command, CommandContext } from './shared.ts';
import { InputError, parseOptions, printJson, readInputText, UsageError } from './shared.ts';

const usage = `usage: arcticc generate --model DIR (--prompt TEXT | --prompt-ids FILE.json) [options]

Continue prompts with a Hugging Face LlamaForCausalLM checkpoint (greedy unless --temperature > 0).

options:
  --model DIR            config.json + model.safetensors (or a sharded index) + tokenizer.json
  --prompt TEXT          one prompt as text (encoded with the model's tokenizer.json)
  --prompt-ids FILE      prompts as token ids: {"prompts": number[][]} ("-" reads standard input)
  --max-new-tokens N     tokens to generate per prompt (default 64)
  --temperature T        0 = greedy (default); > 0 samples
  --top-k K, --top-p P   sampling filters (default: off)
  --seed S               sampling seed (request i uses stream i of it; default 0)
  --ignore-eos           do not stop at the config's eos_token_id
  --speculative-config J speculative decoding, as vLLM takes it, e.g.
                         '{"method": "arctic", "model": "DIR", "num_speculative_tokens": 3, "enable_suffix_decoding": true}'
                         (methods: arctic, suffix, ngram; ArcticInference's suffix_* and disable_by_batch_size keys)
  --device D             cpu | cuda | auto (default auto: CUDA when present)
  --max-model-len N      positions per request, prompt + output (default: max_position_embeddings)
  --max-num-seqs N       requests resident at once (KV-cache slots; default 16)
  --quantize Q           target weights: none (as in the checkpoint; default) | fp8 (projections and an untied
                         LM head in e4m3 with per-row f32 scales, quantized while loading; docs/targets.md)
  --activations A        projection inputs: f32 (default; exact against fp32 references) | bf16 (rounded to bf16
                         as bf16 PyTorch and vLLM models compute: one tensor-core term, faster from 5 rows),
                         for the target and an Arctic drafter alike
  --suffix-updates M     off | global (default) | all: suffix tree updates run while the next target pass is on
                         the device (docs/suffix-overlap.md); outputs never change, drafts may
  --hybrid-bar B         measured (default) | n_predict (ArcticInference's): the score an Arctic + suffix
                         step needs to take the suffix draft over the model's
  --json                 print {"outputs": [{"token_ids", "text", "finish_reason"}], "metrics": {...}}

exit codes: 0 generated; 1 bad input (missing or unsupported model, bad prompt file, token ids outside the
vocabulary, a prompt too long for max-model-len, a bad speculative config); 2 usage (unknown option,
neither or both of --prompt and --prompt-ids).

example:
  arcticc generate --model tests/fixtures/target/pycode-small --prompt "def fib(n):" --max-new-tokens 32 \
    --speculative-config '{"method": "arctic", "model": "tests/fixtures/target/pycode-small-lstm", "num_speculative_tokens": 3}'
`;

const Options = z.object({
  model: z.string({ error: 'is required (a model folder)' }),
  prompt: z.string().optional(),
  'prompt-ids': z.string().optional(),
  'max-new-tokens': z.coerce.number().int().positive().default(64),
  temperature: z.coerce.number().min(0).default(0),
  'top-k': z.coerce.number().int().min(0).optional(),
  'top-p': z.coerce.number().gt(0).max(1).optional(),
  seed: z.coerce.number().int().default(0),
  'ignore-eos': z.boolean().default(false),
  'speculative-config': z.string().optional(),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  'max-model-len': z.coerce.number().int().min(2).optional(),
  'max-num-seqs': z.coerce.number().int().positive().optional(),
  quantize: z.enum(TARGET_QUANTIZE_MODES).default('none'),
  activations: z.enum(ACTIVATION_MODES).default('f32'),
  'suffix-updates': z.enum(DEFER_MODES).default(DEFAULT_SUFFIX_UPDATES),
  'hybrid-bar': z.enum(HYBRID_BARS).default(DEFAULT_HYBRID_BAR),
  json: z.boolean().default(false),
});

const PromptFile = z.strictObject({ prompts: z.array(z.array(z.number().int())).min(1) });

export async function readPromptIds(file: string, ctx: CommandContext): Promise<number[][]> {
  const text = await readInputText(file, ctx);
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new InputError(`${file}: not valid JSON: ${(e as Error).message}`); }
  const r = PromptFile.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    const what = i.code === 'unrecognized_keys' ? `unknown field "${i.keys[0]}" (expected {"prompts": number[][]})` : `field "${i.path.join('.') || '(root)'}": ${i.message}`;
    throw new InputError(`${file}: ${what}`);
  }
  return r.data.prompts;
}

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o } = parseOptions('generate', argv, {
    model: { type: 'string', short: 'm' }, prompt: { type: 'string', short: 'p' }, 'prompt-ids': { type: 'string' },
    'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
    seed: { type: 'string' }, 'ignore-eos': { type: 'boolean' }, 'speculative-config': { type: 'string' }, device: { type: 'string' },
    'max-model-len': { type: 'string' }, 'max-num-seqs': { type: 'string' }, quantize: { type: 'string' }, activations: { type: 'string' }, 'suffix-updates': { type: 'string' }, 'hybrid-bar': { type: 'string' },
  }, Options);
  if ((o.prompt === undefined) === (o['prompt-ids'] === undefined)) throw new UsageError('generate: give exactly one of --prompt TEXT or --prompt-ids FILE.json');
  const tokenizer = await Tokenizer.fromDir(o.model);
  const prompts = o.prompt !== undefined ? [tokenizer.encode(o.prompt)] : await readPromptIds(o['prompt-ids']!, ctx);
  const engine = await loadEngine({
    model: o.model, device: o.device, maxModelLen: o['max-model-len'], maxNumSeqs: o['max-num-seqs'], quantize: o.quantize, activations: o.activations, quiet: o.json,
    suffixUpdates: o['suffix-updates'], hybridBar: o['hybrid-bar'],
    speculativeConfig: o['speculative-config'],
  });
  const target = engine.target;
  try {
    const stream = !o.json && prompts.length === 1 && process.stdout.isTTY;
    const detok = tokenizer.streamingDetokenizer();
    const { outputs, metrics } = await engine.engine.generate(prompts, {
      maxNewTokens: o['max-new-tokens'], temperature: o.temperature, topK: o['top-k'], topP: o['top-p'], seed: o.seed,
      ...(o['ignore-eos'] ? { stopTokenIds: [] } : {}),
      ...(stream ? { onTokens: (_: number, ids: readonly number[]) => { for (const id of ids) process.stdout.write(detok.push(id)); } } : {}),
    });
    const texts = outputs.map((x) => tokenizer.decode(x.tokenIds));
    const acc = metrics.acceptance;
    // vLLM's spec-decode counter names
    const spec = engine.config === null ? null : {
      method: engine.description,
      spec_decode_num_drafts: acc.numDrafts, spec_decode_num_draft_tokens: acc.numDraftTokens,
      spec_decode_num_accepted_tokens: acc.numAcceptedTokens, mean_acceptance_length: acc.meanAcceptanceLength,
      per_position_acceptance_rate: acc.perPositionAcceptanceRate,
      by_source: Object.fromEntries(Object.entries(metrics.acceptanceBySource).map(([k, m]) => [k, {
        spec_decode_num_drafts: m!.numDrafts, spec_decode_num_draft_tokens: m!.numDraftTokens, spec_decode_num_accepted_tokens: m!.numAcceptedTokens,
        mean_acceptance_length: m!.meanAcceptanceLength, per_position_acceptance_rate: m!.perPositionAcceptanceRate,
      }])),
    };
    const summary = {
      device: target.device, deviceDescription: target.deviceDescription, requests: metrics.requests, prompt_tokens: metrics.promptTokens,
      generated_tokens: metrics.generatedTokens, ms: metrics.ms, tokens_per_second: metrics.tokensPerSecond, steps: metrics.steps,
      draft_ms_per_step: metrics.draftMsPerStep, verify_ms_per_step: metrics.verifyMsPerStep, host_ms_per_step: metrics.hostMsPerStep,
      speculative: spec,
    };
    if (o.json) {
      printJson(ctx, {
        outputs: outputs.map((x, i) => ({
          token_ids: x.tokenIds, text: texts[i], finish_reason: x.finishReason,
          ...(spec ? { spec_decode_num_drafts: x.acceptance.numDrafts, spec_decode_num_accepted_tokens: x.acceptance.numAcceptedTokens, mean_acceptance_length: x.acceptance.meanAcceptanceLength } : {}),
        })),
        metrics: summary,
      });
      return;
    }
    if (stream) process.stdout.write(detok.flush() + '\n');
    else outputs.forEach((x, i) => ctx.out(`--- prompt ${i} (${prompts[i].length} tokens) -> ${x.tokenIds.length} tokens, ${x.finishReason}\n${texts[i]}`));
    ctx.out(`${metrics.generatedTokens} tokens for ${metrics.requests} prompt(s) in ${(metrics.ms / 1000).toFixed(2)} s: ${metrics.tokensPerSecond.toFixed(1)} tok/s on ${target.deviceDescription}`);
    if (spec) {
      const per = acc.perPositionAcceptanceRate.slice(0, 8).map((x) => x.toFixed(2)).join(' ');
      ctx.out(`speculation: ${engine.description}; mean acceptance length ${acc.meanAcceptanceLength.toFixed(3)} over ${acc.numDrafts} drafts; per position ${per}`);
    }
  } finally {
    engine.close();
  }
}

export const command: Command = { usage, run };
