// Test helpers for IR work (as Langium ships parseHelper/expectError): parse, run passes, check errors.
import { expect } from 'vitest';
import type { Graph } from '../../compiler/ir/graph.ts';
import { parseGraph } from '../../compiler/ir/parse/index.ts';
import { printGraph } from '../../compiler/ir/print.ts';
import { verifyGraph } from '../../compiler/ir/verify.ts';
import { runPipeline } from '../../compiler/pipeline.ts';

export const parseIR = (text: string): Graph => parseGraph(text, '<test>');

/** Parse, run `passes` (verifying after each), and print. */
export const runPasses = (text: string, passes: string): string => printGraph(runPipeline(parseIR(text), passes, { verify: true }));

/** The thrown error's message, failing the test when nothing is thrown. */
export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  expect.fail('expected an error, but none was thrown');
}

/** The verifier reports exactly the given rules (in any order), each at least once. */
export function expectDiagnostics(g: Graph, stage: string, rules: readonly string[]): string[] {
  const ds = verifyGraph(g, stage, { throwOnError: false });
  expect([...new Set(ds.map((d) => d.rule))].sort()).toEqual([...new Set(rules)].sort());
  return ds.map((d) => d.message);
}
