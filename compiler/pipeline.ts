// The pass pipeline: an ordered list of named passes, with --dump-after / --stop-after, and the
// verifier after every pass when asked (tests always ask).
import { z } from 'zod';
import type { Graph } from './ir/graph.ts';
import { printGraph } from './ir/print.ts';
import { verifyGraph } from './ir/verify.ts';
import { getPass } from './passes/registry.ts';
import type { Pass } from './passes/registry.ts';

/** A registered pass by name, or a Pass object (custom passes, tests), optionally with options. */
export type PassSpec = string | Pass<any> | { readonly pass: string | Pass<any>; readonly options?: Readonly<Record<string, unknown>> };
export type Pipeline = readonly PassSpec[];

/** What `arcticc compile` runs before scheduling. */
export const DEFAULT_PIPELINE: Pipeline = ['canonicalize'];

export interface PipelineOptions {
  /** print the IR after these passes (or after every pass) */
  readonly dumpAfter?: readonly string[] | 'all';
  /** run up to and including this pass, then return */
  readonly stopAfter?: string;
  /** receives each dump; default writes MLIR-style banners to stderr */
  readonly onDump?: (pass: string, text: string) => void;
  /** verify the input and the output of every pass at the pass's stage */
  readonly verify?: boolean;
}

function scalar(text: string): unknown {
  if (text === 'true' || text === 'false') return text === 'true';
  const n = Number(text);
  return text !== '' && Number.isFinite(n) ? n : text;
}

/**
 * The textual form used by the CLI and `// RUN: passes=` headers: `a,b{key=value other=2},c`.
 * Option values are booleans, numbers, or else strings.
 */
export function parsePipeline(text: string): PassSpec[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i];
    if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if (i === text.length || (ch === ',' && depth === 0)) { parts.push(text.slice(start, i).trim()); start = i + 1; }
  }
  return parts.filter((p) => p !== '').map((p) => {
    const m = /^([A-Za-z0-9_-]+)(?:\s*\{([^{}]*)\})?$/.exec(p);
    if (!m) throw new Error(`pipeline "${text}": cannot parse "${p}" (expected name or name{key=value ...})`);
    if (m[2] === undefined) return m[1];
    const options: Record<string, unknown> = {};
    for (const kv of m[2].trim().split(/\s+/).filter(Boolean)) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new Error(`pipeline "${text}": option "${kv}" of pass ${m[1]} is not key=value`);
      options[kv.slice(0, eq)] = scalar(kv.slice(eq + 1));
    }
    return { pass: m[1], options };
  });
}

interface Step { readonly pass: Pass<unknown>; readonly options: unknown }

/** Look up every pass and validate its options before anything runs, so mistakes cost nothing. */
function resolve(pipeline: Pipeline): Step[] {
  return pipeline.map((spec) => {
    const { pass: p, options = {} } = typeof spec === 'string' || 'run' in spec ? { pass: spec } : spec;
    const pass = typeof p === 'string' ? getPass(p) : p;
    const parsed = pass.options.safeParse(options);
    if (!parsed.success) throw new Error(`options of pass ${pass.name}: ${z.prettifyError(parsed.error)}`);
    return { pass, options: parsed.data };
  });
}

const stderrDump = (pass: string, text: string): void => { process.stderr.write(`// -----// IR Dump After ${pass} //----- //\n${text}`); };

export function runPipeline(g: Graph, passes: string | Pipeline, opts: PipelineOptions = {}): Graph {
  const steps = resolve(typeof passes === 'string' ? parsePipeline(passes) : passes);
  const names = steps.map((s) => s.pass.name);
  for (const n of [...(opts.dumpAfter === 'all' ? [] : opts.dumpAfter ?? []), ...(opts.stopAfter ? [opts.stopAfter] : [])]) {
    if (!names.includes(n)) throw new Error(`--dump-after/--stop-after names pass "${n}", which is not in the pipeline (${names.join(', ') || 'empty'})`);
  }
  const dump = opts.onDump ?? stderrDump;
  if (opts.verify) verifyGraph(g, 'graph', { context: 'before the pipeline' });
  let cur = g;
  for (const { pass, options } of steps) {
    cur = pass.run(cur, options);
    if (opts.verify) verifyGraph(cur, pass.stage ?? 'graph', { context: `after pass ${pass.name}` });
    if (opts.dumpAfter === 'all' || opts.dumpAfter?.includes(pass.name)) dump(pass.name, printGraph(cur));
    if (opts.stopAfter === pass.name) break;
  }
  return cur;
}
