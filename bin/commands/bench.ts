// arcticc bench --model DIR [--device cpu|cuda|auto] [--quantize none|fp8-head|fp8-all] [--batch 1,32] [--iters N] [--json]
// Times propose() end to end (host validation, copies, kernels or interpreter) on random inputs.
import { z } from 'zod';
import { QUANTIZE_MODES } from '../../runtime/quantize-program.ts';
import { loadSpeculator } from '../../runtime/speculator.ts';
import type { CommandContext } from './shared.ts';
import { parseOptions, printJson } from './shared.ts';

const Options = z.object({
  model: z.string({ error: 'is required (a checkpoint folder)' }),
  device: z.enum(['cpu', 'cuda', 'auto']).default('auto'),
  quantize: z.enum(QUANTIZE_MODES).default('none'),
  batch: z.string().default('1').transform((s, c) => {
    const v = s.split(',').map(Number);
    if (v.some((b) => !Number.isInteger(b) || b < 1)) { c.addIssue({ code: 'custom', message: `"${s}" is not a list of positive batch sizes` }); return z.NEVER; }
    return v;
  }),
  iters: z.coerce.number().int().positive().default(20),
  json: z.boolean().default(false),
});

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

export async function bench(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o } = parseOptions('bench', argv, { model: { type: 'string', short: 'm' }, device: { type: 'string' }, quantize: { type: 'string' }, batch: { type: 'string' }, iters: { type: 'string' } }, Options);
  const spec = await loadSpeculator({ model: o.model, device: o.device, maxBatch: Math.max(...o.batch), quantize: o.quantize, quiet: o.json });
  const results: { batch: number; medianMs: number; minMs: number; iters: number }[] = [];
  try {
    for (const B of o.batch) {
      const hidden = Float32Array.from({ length: B * spec.hiddenSize }, () => Math.random() * 2 - 1);
      const tokens = Int32Array.from({ length: B }, () => Math.floor(Math.random() * spec.vocabSize));
      await spec.propose({ hidden, tokens }); // warm-up: JIT, graph capture
      const times: number[] = [];
      for (let i = 0; i < o.iters; i++) {
        const t0 = performance.now();
        await spec.propose({ hidden, tokens });
        times.push(performance.now() - t0);
      }
      results.push({ batch: B, medianMs: median(times), minMs: Math.min(...times), iters: o.iters });
    }
  } finally {
    spec.close();
  }
  if (o.json) { printJson(ctx, { device: spec.device, deviceDescription: spec.deviceDescription, results }); return; }
  ctx.out(`device: ${spec.deviceDescription}`);
  for (const r of results) ctx.out(`batch ${String(r.batch).padStart(3)}: ${r.medianMs.toFixed(3)} ms per proposal (median of ${r.iters}, min ${r.minMs.toFixed(3)})`);
}
