// arcticc propose: load a checkpoint (and optionally your own DSL program) and propose draft tokens.
import { z } from 'zod';
import { QUANTIZE_MODES } from '../../runtime/quantize-program.ts';
import { ACTIVATION_MODES } from '../../models/llama.ts';
import type { ClampedToken } from '../../runtime/validate-inputs.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import type { Command, CommandContext } from './shared.ts';
import { InputError, parseOptions, printJson, readInputText } from './shared.ts';

export const usage = `usage: arcticc propose --model DIR --input FILE.json|- [options]

Load a speculator checkpoint and propose draft tokens for a batch of requests.

  -m, --model DIR          checkpoint folder (config.json + model.safetensors | index + shards | pytorch_model.bin)
  -i, --input FILE|-       request JSON {"hidden": number[][], "tokens": number[]} (B rows of H values, B tokens); - reads stdin
      --program FILE.ts    run your own DSL program (a file exporting a Program or a factory) with the weights of DIR
      --export NAME        which export of --program to use (default: the first one)
      --device cpu|cuda|auto   default auto: CUDA when a device answers, else the CPU
      --quantize none|fp8-head|fp8-all   fp8 e4m3 weights with per-row scales (default none)
      --activations f32|bf16   bf16: every linear's input rounded to bf16 (a bf16 speculator's numerics;
                           faster heads from batch 5 on CUDA); default f32
      --clamp-tokens       clamp token ids into [0, V-1] as ArcticInference does (and report each), instead of failing
      --max-batch N        the largest batch one call may carry, on every device (default 64)
      --tp N               tensor-parallel drafting over N worker processes (vocab-sharded LM head, one
                           all-gather per step; built-in speculators; --device cuda: one GPU per rank,
                           NCCL all-gathers inside the CUDA graph; cpu/auto: the CPU backend)
      --json               print {"draft", "device", "deviceDescription", "ms", "clamped"}
  -h, --help               show this help

exit codes: 0 drafts printed; 1 bad input (missing checkpoint, malformed request, wrong hidden size,
out-of-range token, batch above --max-batch) or a failure while running; 2 usage (unknown option, bad option value)

example:
  echo '{"hidden": [[0.1, ...]], "tokens": [7]}' | arcticc propose --model tests/fixtures/speculators/lstm-tiny --input - --json`;

const Options = z.object({
  model: z.string({ error: 'is required (a checkpoint folder)' }),
  input: z.string({ error: 'is required (a JSON file {"hidden": number[][], "tokens": number[]}, or - for stdin)' }),
  program: z.string().optional(),
  export: z.string().optional(),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  quantize: z.enum(QUANTIZE_MODES).default('none'),
  activations: z.enum(ACTIVATION_MODES).default('f32'),
  'clamp-tokens': z.boolean().default(false),
  'max-batch': z.coerce.number().int().positive().optional(),
  tp: z.coerce.number().int().positive().optional(),
  json: z.boolean().default(false),
});

/** The request file's schema: exactly these two fields (a misspelled field is an error, not ignored). */
const Request = z.strictObject({
  hidden: z.array(z.array(z.number())).min(1),
  tokens: z.array(z.number().int()).min(1),
});

/** Parse and check a request (`name` labels errors); bad data is an InputError (exit code 1). */
export function parseRequest(text: string, name: string, hiddenSize: number): { hidden: Float32Array; tokens: Int32Array } {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new InputError(`${name}: not valid JSON: ${(e as Error).message}`); }
  const r = Request.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    if (i.code === 'unrecognized_keys') throw new InputError(`${name}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (a request has only "hidden" and "tokens")`);
    throw new InputError(`${name}: field "${i.path.join('.') || '(root)'}": ${i.message}`);
  }
  const { hidden, tokens } = r.data;
  if (hidden.length !== tokens.length) throw new InputError(`${name}: "hidden" has ${hidden.length} rows but "tokens" has ${tokens.length}`);
  hidden.forEach((row, i) => {
    if (row.length !== hiddenSize) throw new InputError(`${name}: hidden[${i}] has ${row.length} values, the speculator's hidden size is ${hiddenSize}`);
  });
  tokens.forEach((t, i) => {
    if (t < -(2 ** 31) || t >= 2 ** 31) throw new InputError(`${name}: tokens[${i}] = ${t} does not fit in int32`);
  });
  return { hidden: Float32Array.from(hidden.flat()), tokens: Int32Array.from(tokens) };
}

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o } = parseOptions('propose', argv, {
    model: { type: 'string', short: 'm' }, input: { type: 'string', short: 'i' }, program: { type: 'string' }, export: { type: 'string' },
    device: { type: 'string' }, quantize: { type: 'string' }, activations: { type: 'string' }, 'clamp-tokens': { type: 'boolean' }, 'max-batch': { type: 'string' }, tp: { type: 'string' },
  }, Options);
  const text = await readInputText(o.input, ctx); // before loading: a missing request costs nothing
  const clamped: ClampedToken[] = [];
  const spec = await loadSpeculator({
    model: o.model, program: o.program, export: o.export, device: o.device, clampTokens: o['clamp-tokens'],
    onClamp: (c) => clamped.push(...c), maxBatch: o['max-batch'], quantize: o.quantize, activations: o.activations, quiet: o.json,
    tensorParallel: o.tp,
  });
  try {
    const req = parseRequest(text, o.input === '-' ? 'stdin' : o.input, spec.hiddenSize);
    const t0 = performance.now();
    const flat = await spec.propose(req);
    const ms = performance.now() - t0;
    const k = spec.numSpeculativeTokens;
    const draft = Array.from({ length: req.tokens.length }, (_, r) => Array.from(flat.subarray(r * k, (r + 1) * k)));
    if (o.json) printJson(ctx, { draft, device: spec.device, deviceDescription: spec.deviceDescription, ms, clamped });
    else {
      ctx.out(`device: ${spec.deviceDescription}`);
      for (const c of clamped) ctx.err(`note: clamped token ${c.token} in row ${c.row} to ${c.to} (outside [0, ${spec.vocabSize}))`);
      draft.forEach((d, r) => ctx.out(`request ${r}: last token ${req.tokens[r]} -> draft ${d.join(' ')}`));
      ctx.out(`${draft.length} request(s), ${k} draft tokens each, ${ms.toFixed(2)} ms${clamped.length ? `, ${clamped.length} token(s) clamped` : ''}`);
    }
  } finally {
    spec.close();
  }
}

export const command: Command = { usage, run };
