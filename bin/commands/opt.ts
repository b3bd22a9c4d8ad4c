// arcticc opt FILE.air [--passes a,b{k=v}] [--dump-after PASS|all] [--stop-after PASS] [--verify] [--json]
// Runs passes on textual IR (one graph, or several separated by `// -----`) and prints the result.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseModule } from '../../compiler/ir/parse/index.ts';
import { printGraph } from '../../compiler/ir/print.ts';
import { PASSES } from '../../compiler/passes/registry.ts';
import { runPipeline } from '../../compiler/pipeline.ts';
import type { CommandContext } from './shared.ts';
import { parseOptions, printJson, UsageError } from './shared.ts';

const Options = z.object({
  passes: z.string().default('canonicalize'),
  'dump-after': z.array(z.string()).default([]),
  'stop-after': z.string().optional(),
  verify: z.boolean().default(true),
  'list-passes': z.boolean().default(false),
  json: z.boolean().default(false),
});

export async function opt(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o, positionals } = parseOptions('opt', argv, {
    passes: { type: 'string', short: 'p' }, 'dump-after': { type: 'string', multiple: true },
    'stop-after': { type: 'string' }, verify: { type: 'boolean' }, 'list-passes': { type: 'boolean' },
  }, Options);
  if (o['list-passes']) {
    const list = [...PASSES.values()].map((p) => ({ name: p.name, summary: p.summary }));
    if (o.json) printJson(ctx, list);
    else for (const p of list) ctx.out(`${p.name.padEnd(20)} ${p.summary}`);
    return;
  }
  if (positionals.length !== 1) throw new UsageError('opt: expected one textual IR file, e.g. arcticc opt graph.air --passes simplify');
  const file = positionals[0];
  const graphs = parseModule(readFileSync(file, 'utf8'), file);
  const dumps: { pass: string; ir: string }[] = [];
  const dumpAfter = o['dump-after'].includes('all') ? 'all' as const : o['dump-after'];
  const results = graphs.map((g) => runPipeline(g, o.passes, {
    dumpAfter, stopAfter: o['stop-after'], verify: o.verify,
    onDump: (pass, text) => { if (o.json) dumps.push({ pass, ir: text }); else ctx.err(`// -----// IR Dump After ${pass} //----- //\n${text}`); },
  }));
  if (o.json) printJson(ctx, { graphs: results.map(printGraph), dumps });
  else ctx.out(results.map(printGraph).join('// -----\n'));
}
