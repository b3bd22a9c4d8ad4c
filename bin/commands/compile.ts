// arcticc compile (lstm|mlp|FILE.ts) (--model DIR | --config CONFIG.json) --out OUTDIR
//   [--emit ir|ptx|all] [--dump-after PASS|all] [--stop-after PASS] [--max-batch N] [--export NAME]
//   [--quantize none|fp8-head|fp8-all] [--json]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { IR_FILE, writeArtifact } from '../../compiler/artifact.ts';
import { compileProgram } from '../../compiler/compile.ts';
import type { FloatDType } from '../../compiler/ir/dtype.ts';
import { traceUserFile } from '../../compiler/frontend/user-file.ts';
import { printGraph } from '../../compiler/ir/print.ts';
import { DEFAULT_PIPELINE, runPipeline } from '../../compiler/pipeline.ts';
import type { Program } from '../../dsl/index.ts';
import type { SpeculatorConfig } from '../../runtime/checkpoint/index.ts';
import { inspectCheckpoint, parseSpeculatorConfig } from '../../runtime/checkpoint/index.ts';
import { fp8PassOptions, QUANTIZE_MODES } from '../../runtime/quantize-program.ts';
import { buildSpeculator, speculatorShape } from '../../runtime/speculator-program.ts';
import type { CommandContext } from './shared.ts';
import { parseOptions, printJson, UsageError } from './shared.ts';

const Options = z.object({
  model: z.string().optional(),
  config: z.string().optional(),
  out: z.string({ error: 'is required (the artifact folder to write)' }),
  emit: z.enum(['ir', 'ptx', 'all']).default('all'),
  'dump-after': z.array(z.string()).default([]),
  'stop-after': z.string().optional(),
  'max-batch': z.coerce.number().int().positive().default(64),
  export: z.string().optional(),
  quantize: z.enum(QUANTIZE_MODES).default('none'),
  json: z.boolean().default(false),
});

/** The config (and weight dtypes, when a checkpoint is given) that size the program. */
function readConfig(o: z.infer<typeof Options>): { config: SpeculatorConfig; dtypes: Map<string, FloatDType> } | undefined {
  if (o.model && o.config) throw new UsageError('compile: give either --model or --config, not both');
  if (o.model) {
    const d = inspectCheckpoint(o.model);
    if (!d.config || d.problems.length) throw new Error(`${o.model}: ${d.problems.join('; ') || 'no usable config.json'}`);
    return { config: d.config, dtypes: new Map(d.params.map((p) => [p.name, p.dtype as FloatDType])) };
  }
  if (o.config) {
    let json: unknown;
    try { json = JSON.parse(readFileSync(o.config, 'utf8')); } catch (e) { throw new UsageError(`${o.config}: ${(e as Error).message}`); }
    return { config: parseSpeculatorConfig(json, o.config), dtypes: new Map() };
  }
  return undefined;
}

async function buildProgram(target: string, o: z.infer<typeof Options>): Promise<Program> {
  const cfg = readConfig(o);
  const weightDtype = (n: string): FloatDType => cfg?.dtypes.get(n) ?? 'bf16';
  if (target === 'lstm' || target === 'mlp') {
    if (!cfg) throw new UsageError(`compile ${target}: --model DIR or --config CONFIG.json is required to size the speculator`);
    if (cfg.config.kind !== target) throw new UsageError(`compile ${target}: the config describes an ${cfg.config.kind.toUpperCase()} speculator`);
    return buildSpeculator(cfg.config, weightDtype);
  }
  if (!target.endsWith('.ts')) throw new UsageError(`compile: "${target}" is neither lstm, mlp nor a .ts DSL file`);
  return (await traceUserFile(target, o.export, cfg && speculatorShape(cfg.config, weightDtype))).program;
}

export async function compile(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o, positionals } = parseOptions('compile', argv, {
    model: { type: 'string', short: 'm' }, config: { type: 'string' }, out: { type: 'string', short: 'o' },
    emit: { type: 'string' }, 'dump-after': { type: 'string', multiple: true }, 'stop-after': { type: 'string' },
    'max-batch': { type: 'string' }, export: { type: 'string' }, quantize: { type: 'string' },
  }, Options);
  if (positionals.length !== 1) throw new UsageError('compile: expected one target: lstm, mlp or a DSL file (FILE.ts)');
  const program = await buildProgram(positionals[0], o);
  const dumpAfter = o['dump-after'].includes('all') ? 'all' as const : o['dump-after'];
  const dumps: { pass: string; ir: string }[] = [];
  // --quantize adds fp8-matmul (the artifact then binds W.fp8 and W.scale params in place of W)
  const pipeline = o.quantize === 'none' ? DEFAULT_PIPELINE : [...DEFAULT_PIPELINE, { pass: 'fp8-matmul', options: fp8PassOptions(o.quantize) }];
  const graph = runPipeline(program.graph, pipeline, {
    dumpAfter, stopAfter: o['stop-after'],
    onDump: (pass, text) => { dumps.push({ pass, ir: text }); if (!o.json) ctx.err(`// -----// IR Dump After ${pass} //----- //\n${text}`); },
  });
  const ir = printGraph(graph);
  let summary: Record<string, unknown> = { name: graph.name };
  let written: string[];
  if (o.emit === 'ir' || o['stop-after']) {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, IR_FILE), ir);
    written = [IR_FILE];
  } else {
    const plan = compileProgram(graph, { maxDims: { B: o['max-batch'] } });
    written = writeArtifact(o.out, plan, { ir, emit: o.emit });
    summary = { ...summary, kernels: plan.kernels.length, launches: plan.launches.length, modules: Object.keys(plan.modules).length, arenaBytes: plan.arenaBytes, irHash: plan.irHash };
  }
  written = written.map((f) => join(o.out, f));
  if (o.json) printJson(ctx, { ...summary, out: o.out, files: written, dumps });
  else {
    ctx.out(`compiled ${graph.name} -> ${o.out}`);
    for (const [k, v] of Object.entries(summary)) if (k !== 'name') ctx.out(`  ${k}: ${v}`);
    for (const f of written) ctx.out(`  wrote ${f}`);
  }
}
