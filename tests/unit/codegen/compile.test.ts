// compileProgram: the plan's identity fields, determinism, and errors that name the node and the reason.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileProgram, irHash } from '../../../compiler/compile.ts';
import { planProblems } from '../../../compiler/codegen/plan-check.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { printGraph } from '../../../compiler/ir/print.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { createHash } from 'node:crypto';

const lstm = () => lstmSpeculator({ hiddenSize: 96, width: 64, vocabSize: 1000, nPredict: 3, scaleInput: true }).graph;

describe('compileProgram', () => {
  it('records the IR hash, the compiler version, maxDims and signature order', () => {
    const g = lstm();
    const plan = compileProgram(g, { maxDims: { B: 64 } });
    expect(plan.irHash).toBe(createHash('sha256').update(printGraph(g)).digest('hex'));
    expect(plan.irHash).toBe(irHash(g));
    expect(plan.compilerVersion).toBe(JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version);
    expect(plan.maxDims).toEqual({ B: 64 });
    expect(plan.name).toBe('arctic_lstm');
    expect(plan.inputs).toEqual(['input:hidden', 'input:tokens']);
    expect(plan.outputs).toEqual([{ name: 'draft', buffer: 'output:draft' }]);
    expect(planProblems(plan)).toEqual([]);
  });

  it('is deterministic, and reuses identical kernels across unrolled steps', () => {
    const a = compileProgram(lstm(), { maxDims: { B: 64 }, name: 'spec' });
    const b = compileProgram(lstm(), { maxDims: { B: 64 }, name: 'spec' });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    // each of the 6 linears is planned twice (GEMV for ≤ 4 rows, tensor cores above), and each of the 3
    // heads with its argmax reduce after each, plus a second tensor-core head kernel (≤ 32 rows per pass for
    // 5 … 32 rows, 64 above: HEAD_PASS_ROWS); 14 run at any batch
    expect(a.launches).toHaveLength(26);
    for (const B of [1, 4, 5, 32, 33, 64]) expect(a.launches.filter((l) => evalGrid(l.grid[0], new Map([['B', B]])) > 0)).toHaveLength(14);
    expect(a.kernels.length).toBeLessThan(a.launches.length);
    expect(a.kernels.every((k) => k.name.startsWith('spec_'))).toBe(true);
  });

  it('names the node whose dim has no maximum', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 'T']);
    const g = makeGraph('g', [x], [{ name: 'y', node: Node.make('exp', [x]) }]);
    expect(() => compileProgram(g, { maxDims: { B: 4 } })).toThrow(/input\{name="x"\}:f32\[B,T\] uses dim "T", which has no maximum in maxDims/);
    expect(() => compileProgram(g, { maxDims: { B: 4, T: 0 } })).toThrow(/maxDims\.T must be a positive integer/);
  });

  it('names a tensor too large for 32-bit indexing', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 65536]);
    const g = makeGraph('g', [x], [{ name: 'y', node: Node.make('exp', [x]) }]);
    expect(() => compileProgram(g, { maxDims: { B: 65536 } })).toThrow(/input\{name="x"\}:f32\[B,65536\] has 4294967296 elements at \[B,65536\] with maxDims \{"B":65536\}; kernels index tensors with 32 bits \(at most 2147483647\)/);
  });
});
