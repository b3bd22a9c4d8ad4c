// arcticc opt: run passes on textual IR (one graph, or several separated by `// -----`) and print the result.
import { z } from 'zod';
import { parseModule } from '../../compiler/ir/parse/index.ts';
import { printGraph } from '../../compiler/ir/print.ts';
import { PASSES } from '../../compiler/passes/registry.ts';
import { parsePipeline, runPipeline } from '../../compiler/pipeline.ts';
import type { PassSpec } from '../../compiler/pipeline.ts';
import type { Command, CommandContext } from './shared.ts';
import { parseOptions, printJson, readInputText, UsageError } from './shared.ts';

export const usage = `usage: arcticc opt FILE.air|- [--passes a,b{key=value}] [options]

Parse textual IR, run a pass pipeline, print the resulting IR on stdout.

  -p, --passes LIST        comma-separated passes, each optionally with {key=value ...} (default canonicalize)
      --dump-after PASS    print the IR after this pass to stderr (repeatable; all: after every pass)
      --stop-after PASS    stop after this pass
      --verify / --no-verify   run the verifier around every pass (default on)
      --list-passes        list the registered passes and exit
      --json               print {"graphs": [...], "dumps": [...]}
  -h, --help               show this help

exit codes: 0 passes ran; 1 the IR does not parse or verify (file:line:col), the file is missing, a pass
failed; 2 usage (unknown pass, bad pass options, --dump-after/--stop-after not in the pipeline)

example:
  arcticc opt graph.air --passes simplify,fold-concat-slice --dump-after simplify`;

const Options = z.object({
  passes: z.string().default('canonicalize'),
  'dump-after': z.array(z.string()).default([]),
  'stop-after': z.string().optional(),
  verify: z.boolean().default(true),
  'list-passes': z.boolean().default(false),
  json: z.boolean().default(false),
});

const specName = (s: PassSpec): string => (typeof s === 'string' ? s : 'run' in s ? s.name : typeof s.pass === 'string' ? s.pass : s.pass.name);

async function run(argv: string[], ctx: CommandContext): Promise<void> {
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
  // the pipeline is part of the command line: every mistake in it is a usage error, found before any work
  let pipeline: PassSpec[];
  try { pipeline = parsePipeline(o.passes); } catch (e) { throw new UsageError(`opt: --passes: ${(e as Error).message}`); }
  const names = pipeline.map(specName);
  for (const spec of pipeline) {
    const n = specName(spec);
    const pass = PASSES.get(n);
    if (!pass) throw new UsageError(`opt: --passes: unknown pass "${n}" (known: ${[...PASSES.keys()].join(', ')})`);
    const r = pass.options.safeParse(typeof spec === 'object' && 'options' in spec ? spec.options ?? {} : {});
    if (!r.success) throw new UsageError(`opt: --passes: options of pass ${n}: ${r.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
  }
  for (const n of [...o['dump-after'].filter((d) => d !== 'all'), ...(o['stop-after'] ? [o['stop-after']] : [])]) {
    if (!names.includes(n)) throw new UsageError(`opt: --dump-after/--stop-after ${n}: not in the pipeline (${names.join(', ')})`);
  }
  const file = positionals[0];
  const graphs = parseModule(await readInputText(file, ctx), file === '-' ? 'stdin' : file);
  const dumps: { pass: string; ir: string }[] = [];
  const dumpAfter = o['dump-after'].includes('all') ? 'all' as const : o['dump-after'];
  const results = graphs.map((g) => runPipeline(g, pipeline, {
    dumpAfter, stopAfter: o['stop-after'], verify: o.verify,
    onDump: (pass, text) => { if (o.json) dumps.push({ pass, ir: text }); else ctx.err(`// -----// IR Dump After ${pass} //----- //\n${text}`); },
  }));
  if (o.json) printJson(ctx, { graphs: results.map(printGraph), dumps });
  else ctx.out(results.map(printGraph).join('// -----\n'));
}

export const command: Command = { usage, run };
