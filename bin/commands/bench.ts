// arcticc bench: time propose() end to end (host validation, copies, kernels or interpreter) on random inputs.
import { z } from 'zod';
import { QUANTIZE_MODES } from '../../runtime/quantize-program.ts';
import { ACTIVATION_MODES } from '../../models/llama.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import type { Command, CommandContext } from './shared.ts';
import { parseOptions, printJson, progress } from './shared.ts';

export const usage = `usage: arcticc bench --model DIR [--device cpu|cuda|auto] [--batch 1,32] [--iters N] [options]

Time propose() end to end on random hidden states and tokens: one warm-up call (JIT, graph capture) per
batch size, then the median and minimum of N calls. A terminal shows progress on stderr.

  -m, --model DIR          checkpoint folder
      --program FILE.ts    time your own DSL program with the weights of DIR
      --device cpu|cuda|auto   default auto
      --quantize none|fp8-head|fp8-all   default none
      --activations f32|bf16   bf16: linear inputs rounded to bf16 (loadSpeculator's activations; default f32)
      --batch LIST         comma-separated batch sizes (default 1)
      --iters N            timed calls per batch size (default 20)
      --json               print {"device", "deviceDescription", "results": [{batch, medianMs, minMs, iters}]}
  -h, --help               show this help

exit codes: 0 timed; 1 bad input (missing or broken checkpoint) or a failure while running; 2 usage

example:
  arcticc bench --model tests/fixtures/speculators/lstm-tiny --device cpu --batch 1,8 --iters 5`;

const Options = z.object({
  model: z.string({ error: 'is required (a checkpoint folder)' }),
  program: z.string().optional(),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  quantize: z.enum(QUANTIZE_MODES).default('none'),
  activations: z.enum(ACTIVATION_MODES).default('f32'),
  batch: z.string().default('1').transform((s, c) => {
    const v = s.split(',').map(Number);
    if (v.some((b) => !Number.isInteger(b) || b < 1)) { c.addIssue({ code: 'custom', message: `"${s}" is not a list of positive batch sizes` }); return z.NEVER; }
    return v;
  }),
  iters: z.coerce.number().int().positive().default(20),
  json: z.boolean().default(false),
});

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o } = parseOptions('bench', argv, { model: { type: 'string', short: 'm' }, program: { type: 'string' }, device: { type: 'string' }, quantize: { type: 'string' }, activations: { type: 'string' }, batch: { type: 'string' }, iters: { type: 'string' } }, Options);
  const bar = progress(ctx, !o.json);
  bar.update(`bench: loading ${o.model}`);
  const results: { batch: number; medianMs: number; minMs: number; iters: number }[] = [];
  let spec;
  try {
    spec = await loadSpeculator({ model: o.model, program: o.program, device: o.device, maxBatch: Math.max(...o.batch), quantize: o.quantize, activations: o.activations, quiet: o.json });
    for (const B of o.batch) {
      const hidden = Float32Array.from({ length: B * spec.hiddenSize }, () => Math.random() * 2 - 1);
      const tokens = Int32Array.from({ length: B }, () => Math.floor(Math.random() * spec!.vocabSize));
      bar.update(`bench: batch ${B}: warm-up`);
      await spec.propose({ hidden, tokens }); // warm-up: JIT, graph capture
      const times: number[] = [];
      for (let i = 0; i < o.iters; i++) {
        bar.update(`bench: batch ${B}: call ${i + 1}/${o.iters}`);
        const t0 = performance.now();
        await spec.propose({ hidden, tokens });
        times.push(performance.now() - t0);
      }
      results.push({ batch: B, medianMs: median(times), minMs: Math.min(...times), iters: o.iters });
    }
  } finally {
    bar.done();
    spec?.close();
  }
  if (o.json) { printJson(ctx, { device: spec.device, deviceDescription: spec.deviceDescription, results }); return; }
  ctx.out(`device: ${spec.deviceDescription}`);
  for (const r of results) ctx.out(`batch ${String(r.batch).padStart(3)}: ${r.medianMs.toFixed(3)} ms per proposal (median of ${r.iters}, min ${r.minMs.toFixed(3)})`);
}

export const command: Command = { usage, run };
