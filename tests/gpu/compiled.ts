// The compiler half, imported only by GPU suites that run (so a tree without the compiler still loads).
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import { compileProgram } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir/graph.ts';

export const compile = (graph: Graph, maxDims: Record<string, number>): ExecutionPlan => compileProgram(graph, { maxDims });
