// arcticc propose --model DIR --input FILE.json [--device cpu|cuda|auto] [--quantize none|fp8-head|fp8-all] [--clamp-tokens] [--json]
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { QUANTIZE_MODES } from '../../runtime/quantize-program.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import type { CommandContext } from './shared.ts';
import { parseOptions, printJson, UsageError } from './shared.ts';

const Options = z.object({
  model: z.string({ error: 'is required (a checkpoint folder)' }),
  input: z.string({ error: 'is required (a JSON file {"hidden": number[][], "tokens": number[]})' }),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  quantize: z.enum(QUANTIZE_MODES).default('none'),
  'clamp-tokens': z.boolean().default(false),
  'max-batch': z.coerce.number().int().positive().optional(),
  json: z.boolean().default(false),
});

const Request = z.object({
  hidden: z.array(z.array(z.number())).min(1),
  tokens: z.array(z.number().int()).min(1),
});

export function readRequest(file: string, hiddenSize: number): { hidden: Float32Array; tokens: Int32Array } {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new UsageError(`${file}: ${(e as Error).message}`); }
  const r = Request.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UsageError(`${file}: field "${i.path.join('.')}": ${i.message}`);
  }
  const { hidden, tokens } = r.data;
  if (hidden.length !== tokens.length) throw new UsageError(`${file}: "hidden" has ${hidden.length} rows but "tokens" has ${tokens.length}`);
  hidden.forEach((row, i) => {
    if (row.length !== hiddenSize) throw new UsageError(`${file}: hidden[${i}] has ${row.length} values, the speculator's hidden size is ${hiddenSize}`);
  });
  tokens.forEach((t, i) => {
    if (t < -(2 ** 31) || t >= 2 ** 31) throw new UsageError(`${file}: tokens[${i}] = ${t} does not fit in int32`);
  });
  return { hidden: Float32Array.from(hidden.flat()), tokens: Int32Array.from(tokens) };
}

export async function propose(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o } = parseOptions('propose', argv, {
    model: { type: 'string', short: 'm' }, input: { type: 'string', short: 'i' }, device: { type: 'string' }, quantize: { type: 'string' },
    'clamp-tokens': { type: 'boolean' }, 'max-batch': { type: 'string' },
  }, Options);
  const spec = await loadSpeculator({ model: o.model, device: o.device, clampTokens: o['clamp-tokens'], maxBatch: o['max-batch'], quantize: o.quantize, quiet: o.json });
  try {
    const req = readRequest(o.input, spec.hiddenSize);
    const t0 = performance.now();
    const flat = await spec.propose(req);
    const ms = performance.now() - t0;
    const k = spec.numSpeculativeTokens;
    const draft = Array.from({ length: req.tokens.length }, (_, r) => Array.from(flat.subarray(r * k, (r + 1) * k)));
    if (o.json) printJson(ctx, { draft, device: spec.device, deviceDescription: spec.deviceDescription, ms });
    else {
      ctx.out(`device: ${spec.deviceDescription}`);
      draft.forEach((d, r) => ctx.out(`request ${r}: last token ${req.tokens[r]} -> draft ${d.join(' ')}`));
      ctx.out(`${draft.length} request(s), ${k} draft tokens each, ${ms.toFixed(2)} ms`);
    }
  } finally {
    spec.close();
  }
}
