// What a pass is: a named Graph → Graph function with a zod options schema, so the CLI, the pipeline
// and test headers (`// RUN: passes=...`) can all configure it by name.
import type { z } from 'zod';
import type { Graph } from '../ir/graph.ts';

export interface Pass<O = unknown> {
  /** the CLI flag and file name, e.g. "fold-concat-slice" */
  readonly name: string;
  /** one line for `arcticc passes` */
  readonly summary: string;
  /** what it does, what it leaves alone, and why */
  readonly description: string;
  readonly options: z.ZodType<O>;
  /** the verifier stage the output satisfies (compiler/ir/verify.ts STAGE_RULES); default "graph" */
  readonly stage?: string;
  run(graph: Graph, options: O): Graph;
}

/** Identity helper that infers the options type from the schema. */
export function definePass<S extends z.ZodType>(p: {
  name: string; summary: string; description: string; options: S; stage?: string;
  run(graph: Graph, options: z.output<S>): Graph;
}): Pass<z.output<S>> {
  return Object.freeze(p) as Pass<z.output<S>>;
}
