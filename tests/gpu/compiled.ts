// The compiler half, imported only by GPU suites that run (so a tree without the compiler still loads).
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import { compileProgram } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir/graph.ts';

export const compile = (graph: Graph, maxDims: Record<string, number>): ExecutionPlan => compileProgram(graph, { maxDims });

/** The certified argmax head (lm-head-certify, docs/certified-argmax.md) of a graph with a fused-able argmax head. */
export const compileCertified = async (graph: Graph, maxDims: Record<string, number>): Promise<ExecutionPlan> => {
  const { lmHeadArgmax } = await import('../../compiler/passes/lm-head-argmax.ts');
  const { lmHeadCertify } = await import('../../compiler/passes/lm-head-certify.ts');
  const g = lmHeadCertify(lmHeadArgmax(graph));
  if (!g.outputs.some((o) => o.node.arg?.epilogue === 'certified')) throw new Error(`compileCertified: ${graph.name} has no head lm-head-certify takes`);
  return compileProgram(g, { maxDims });
};
