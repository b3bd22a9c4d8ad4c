// arcticc compile: a built-in speculator or a DSL file → pass pipeline → schedule → PTX + manifest.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { IR_FILE, writeArtifact } from '../../compiler/artifact.ts';
import type { FloatDType } from '../../compiler/ir/dtype.ts';
import { graphParams } from '../../compiler/ir/graph.ts';
import { printGraph } from '../../compiler/ir/print.ts';
import type { Pipeline } from '../../compiler/pipeline.ts';
import { scheduleGraph } from '../../compiler/schedule/schedule.ts';
import type { DrafterOptions, Program } from '../../dsl/index.ts';
import type { SpeculatorConfig } from '../../runtime/checkpoint/index.ts';
import { inspectCheckpoint, parseSpeculatorConfig } from '../../runtime/checkpoint/index.ts';
import { drafterOptionsFromDir, drafterOptionsFromJson } from '../../runtime/drafter-options.ts';
import { lowerSpeculator, planSpeculator, speculatorPipeline } from '../../runtime/compile-speculator.ts';
import { gateFusionDerived } from '../../compiler/passes/gate-fusion.ts';
import { QUANTIZE_MODES } from '../../runtime/quantize-program.ts';
import { ACTIVATION_MODES } from '../../models/llama.ts';
import { buildSpeculator } from '../../runtime/speculator-program.ts';
import { formatSchedule } from './dump-schedule.ts';
import { cutAtCollectives, shardVocabParallel } from '../../compiler/passes/tensor-parallel.ts';
import type { Command, CommandContext } from './shared.ts';
import { InputError, parseOptions, printJson, progress, readInputText, UsageError } from './shared.ts';

/** Beside the manifest when gate-fusion fused weights: each fused param's GateDerivation (name, axis 0, from, dtype, shape). */
export const GATE_WEIGHTS_FILE = 'gate-weights.json';

export const usage = `usage: arcticc compile (lstm|mlp|FILE.ts) (--model DIR | --config CONFIG.json) --out OUT [options]

Trace a speculator, run the pass pipeline, schedule kernels and emit PTX. Writes manifest.json
(zod-validated), one .ptx per module and graph.air (the optimized IR) into OUT, and gate-weights.json
when the gate-fusion pass fused weights (each fused param and the checkpoint tensors it stacks, in order).

  lstm | mlp               the built-in Arctic speculators (need --model or --config for their sizes)
  FILE.ts                  your DSL file: it exports a Program, or a factory (options: DrafterOptions) => Program;
                           with --model/--config the factory gets the sizes from that config, else its defaults
  -m, --model DIR          size the program from a checkpoint's config.json (and its weight dtypes)
      --config FILE.json   size the program from a config file
  -o, --out OUT            the artifact folder to write (required)
      --emit ir|ptx|all    what to write (default all)
      --dump-after STAGE   print the IR at a stage to stderr (repeatable): trace (before any pass), a pass
                           name (e.g. canonicalize), schedule (the scheduled kernels), or all (every one)
      --stop-after PASS    stop after this pass and write only graph.air
      --max-batch N        the largest batch the kernels are sized for (default 64)
      --export NAME        which export of FILE.ts to compile (default: the first one)
      --quantize none|fp8-head|fp8-all   add the fp8-matmul pass (default none)
      --activations f32|bf16   bf16: add the bf16-activations pass (every linear's input rounded to bf16,
                           as a bf16 PyTorch/vLLM speculator computes; one tensor-core term; default f32)
      --tp N               tensor parallel over N ranks: compile rank --rank's program (the LM head split by
                           vocabulary, V padded to a multiple of 64; each all-gather becomes the input
                           all_gather.K and its send buffer the output all_gather.K.send)
      --rank R             with --tp: which rank (default 0)
      --json               print a summary object (with the dumps) instead of text
  -h, --help               show this help

exit codes: 0 compiled; 1 bad input (unreadable config or checkpoint, a DSL file that does not type-check
or trace, a config of the other kind) or a failure while compiling; 2 usage (no target, unknown target,
missing --out, --model with --config, a built-in without a config, a --dump-after stage not in the pipeline)

examples:
  arcticc compile lstm --model tests/fixtures/speculators/lstm-tiny --out build/lstm
  arcticc compile my-drafter.ts --out build/mine --dump-after all`;

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
  activations: z.enum(ACTIVATION_MODES).default('f32'),
  tp: z.coerce.number().int().positive().optional(),
  rank: z.coerce.number().int().nonnegative().optional(),
  json: z.boolean().default(false),
});
type Options = z.infer<typeof Options>;

/** The parsed config.json (Arctic) and the options a DSL factory is called with, from --model or --config. */
async function readSizes(o: Options, ctx: CommandContext): Promise<{ config?: SpeculatorConfig; options: DrafterOptions; weightDtype: (n: string) => FloatDType } | undefined> {
  if (o.model && o.config) throw new UsageError('compile: give either --model or --config, not both');
  if (o.model) {
    const options = drafterOptionsFromDir(o.model);
    if (!options.arctic) return { options, weightDtype: options.weightDtype };
    // the built-in speculators bind canonical names (projs.0.weight = four stored gate projections)
    const d = inspectCheckpoint(o.model);
    if (!d.config || d.problems.length) throw new InputError(`${o.model}: ${d.problems.join('; ') || 'no usable config.json'}`);
    const dtypes = new Map(d.params.map((p) => [p.name, p.dtype as FloatDType]));
    return { config: d.config, options, weightDtype: (n) => dtypes.get(n) ?? 'bf16' };
  }
  if (o.config) {
    let json: unknown;
    const text = await readInputText(o.config, ctx);
    try { json = JSON.parse(text); } catch (e) { throw new InputError(`${o.config}: not valid JSON: ${(e as Error).message}`); }
    const options = drafterOptionsFromJson(json, o.config);
    return { config: options.arctic ? parseSpeculatorConfig(json, o.config) : undefined, options, weightDtype: options.weightDtype };
  }
  return undefined;
}

async function buildProgram(target: string, o: Options, ctx: CommandContext): Promise<Program> {
  const sizes = await readSizes(o, ctx);
  if (target === 'lstm' || target === 'mlp') {
    if (!sizes) throw new UsageError(`compile ${target}: --model DIR or --config CONFIG.json is required to size the speculator`);
    if (!sizes.config) throw new InputError(`compile ${target}: ${o.model ?? o.config} is not an Arctic speculator config (no known "architectures")`);
    if (sizes.config.kind !== target) throw new InputError(`compile ${target}: the config describes an ${sizes.config.kind.toUpperCase()} speculator`);
    return buildSpeculator(sizes.config, sizes.weightDtype);
  }
  if (!/\.[cm]?[jt]s$/.test(target)) throw new UsageError(`compile: "${target}" is neither lstm, mlp nor a .ts DSL file`);
  // the DSL front end (ts-morph) loads only for a DSL file target
  const { traceUserFile } = await import('../../compiler/frontend/user-file.ts');
  return (await traceUserFile(target, o.export, sizes?.options)).program;
}

/** The --dump-after stages: trace, schedule, any pass of the pipeline, or all. */
function dumpStages(requested: readonly string[], stopAfter: string | undefined, pipeline: Pipeline): { trace: boolean; schedule: boolean; passes: readonly string[] | 'all' } {
  const all = requested.includes('all');
  const passes = requested.filter((s) => s !== 'trace' && s !== 'schedule' && s !== 'all');
  const names = pipeline.map((p) => (typeof p === 'string' ? p : 'run' in p ? p.name : typeof p.pass === 'string' ? p.pass : p.pass.name));
  for (const p of passes) {
    if (!names.includes(p)) throw new UsageError(`compile: --dump-after ${p}: not a stage of this compile (trace, ${names.join(', ')}, schedule, all)`);
  }
  if (stopAfter !== undefined && !names.includes(stopAfter)) throw new UsageError(`compile: --stop-after ${stopAfter}: not a pass of this compile (${names.join(', ')})`);
  return { trace: all || requested.includes('trace'), schedule: all || requested.includes('schedule'), passes: all ? 'all' : passes };
}

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o, positionals } = parseOptions('compile', argv, {
    model: { type: 'string', short: 'm' }, config: { type: 'string' }, out: { type: 'string', short: 'o' },
    emit: { type: 'string' }, 'dump-after': { type: 'string', multiple: true }, 'stop-after': { type: 'string' },
    'max-batch': { type: 'string' }, export: { type: 'string' }, quantize: { type: 'string' },
    activations: { type: 'string' }, tp: { type: 'string' }, rank: { type: 'string' },
  }, Options);
  if (o.rank !== undefined && o.tp === undefined) throw new UsageError('compile: --rank needs --tp N');
  if (o.tp !== undefined && (o.rank ?? 0) >= o.tp) throw new UsageError(`compile: --rank ${o.rank} is outside [0, ${o.tp})`);
  if (positionals.length !== 1) throw new UsageError('compile: expected one target: lstm, mlp or a DSL file (FILE.ts)');
  // the library's passes (compileSpeculator); --quantize adds fp8-matmul (the artifact then binds W.fp8
  // and W.scale params in place of W)
  const pipeline: Pipeline = speculatorPipeline(o.quantize, undefined, o.activations);
  const stages = dumpStages(o['dump-after'], o['stop-after'], pipeline);
  const dumps: { pass: string; ir: string }[] = [];
  const dump = (stage: string, text: string, banner = `IR Dump After ${stage}`): void => {
    dumps.push({ pass: stage, ir: text });
    if (!o.json) ctx.err(`// -----// ${banner} //----- //\n${text}`);
  };
  const bar = progress(ctx, !o.json);
  try {
    bar.update(`compile: tracing ${positionals[0]}`);
    const traced = await buildProgram(positionals[0], o, ctx);
    const program: Program = o.tp === undefined ? traced
      : { ...traced, graph: cutAtCollectives(shardVocabParallel(traced.graph, o.tp, o.rank ?? 0).graph) };
    if (stages.trace) dump('trace', printGraph(program.graph), 'IR Dump Before any pass (traced)');
    bar.update(`compile ${program.graph.name}: running passes`);
    const graph = lowerSpeculator(program.graph, {
      quantize: o.quantize, activations: o.activations, dumpAfter: stages.passes, stopAfter: o['stop-after'],
      onDump: (pass, text) => dump(pass, text),
    });
    const ir = printGraph(graph);
    let summary: Record<string, unknown> = { name: graph.name };
    let written: string[];
    // what gate-fusion fused, as the pass returns it: whoever binds this artifact's weights builds each
    // fused param from its parts (runtime/gate-weights.ts buildGateWeight), not from its name
    const reads = new Set(graphParams(graph).map((p) => p.argOf<string>('name')));
    const gates = gateFusionDerived(program.graph).derived.filter((d) => reads.has(d.name));
    if (o.emit === 'ir' || o['stop-after']) {
      if (stages.schedule) dump('schedule', formatSchedule(scheduleGraph(graph)), 'Scheduled kernels');
      mkdirSync(o.out, { recursive: true });
      writeFileSync(join(o.out, IR_FILE), ir);
      written = [IR_FILE];
    } else {
      bar.update(`compile ${graph.name}: scheduling and emitting PTX`);
      if (stages.schedule) dump('schedule', formatSchedule(scheduleGraph(graph)), 'Scheduled kernels');
      // lowerSpeculator then planSpeculator = compileSpeculator (what loadSpeculator's CUDA backend runs)
      const plan = planSpeculator(graph, o['max-batch']);
      bar.update(`compile ${graph.name}: writing ${o.out}`);
      written = writeArtifact(o.out, plan, { ir, emit: o.emit });
      summary = { ...summary, kernels: plan.kernels.length, launches: plan.launches.length, modules: Object.keys(plan.modules).length, arenaBytes: plan.arenaBytes, irHash: plan.irHash };
    }
    if (gates.length > 0) {
      writeFileSync(join(o.out, GATE_WEIGHTS_FILE), JSON.stringify(gates, null, 2) + '\n');
      written.push(GATE_WEIGHTS_FILE);
    }
    bar.done();
    written = written.map((f) => join(o.out, f));
    if (o.json) printJson(ctx, { ...summary, out: o.out, files: written, dumps });
    else {
      ctx.out(`compiled ${graph.name} -> ${o.out}`);
      for (const [k, v] of Object.entries(summary)) if (k !== 'name') ctx.out(`  ${k}: ${v}`);
      for (const f of written) ctx.out(`  wrote ${f}`);
    }
  } finally {
    bar.done();
  }
}

export const command: Command = { usage, run };
