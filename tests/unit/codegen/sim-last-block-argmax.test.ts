// The GEMV's fused argmax folded in its last block (docs/last-block-argmax.md) on the PTX machine: no reduce
// launch for the GEMV variant, the interpreter's indices at every GEMV batch (and through the tensor-core
// variant, which keeps its reduce), a plan with three heads sharing the counter, the switch back to the
// reduce launch, and the simulator's model of the pattern: each mutation that breaks the protocol (a missing
// release or acquire fence, a non-coherent load of the partials, no counter reset) is caught.
import { afterEach, describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { rng } from '../../support/random-graph.ts';
import { randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

function head(n: number, k: number) {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
  const w = Node.make('param', [], { name: 'w' }, 'bf16', [n, k]);
  return makeGraph('lb', [x], [{ name: 'tok', node: Node.make('argmax', [Node.make('linear', [x, w])], { axis: 1 }) }]);
}

/** Three chained heads, as an Arctic draft's k steps: each step's x is the last one's plus the embedding of its token. */
function threeHeads(n: number, k: number) {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
  const w = Node.make('param', [], { name: 'w' }, 'bf16', [n, k]);
  const emb = Node.make('param', [], { name: 'emb' }, 'f32', [n, k]);
  let h = x;
  const toks: Node[] = [];
  for (let i = 0; i < 3; i++) {
    const t = Node.make('argmax', [Node.make('linear', [h, w])], { axis: 1 });
    toks.push(t);
    h = Node.make('add', [h, Node.make('gather', [emb, t], { axis: 0 })]);
  }
  return makeGraph('lb3', [x], toks.map((t, i) => ({ name: `tok${i}`, node: t })));
}

/** The same heads with their tokens as one i32[B, 3] output, concat(reshape(argmax) to [B, 1]) as the Arctic drafts write it. */
function draftTokens(n: number, k: number) {
  const g = threeHeads(n, k);
  const cols = g.outputs.map((o) => Node.make('reshape', [o.node], { shape: ['B', 1] }));
  return makeGraph('lb3', g.inputs, [{ name: 'draft', node: Node.make('concat', cols, { axis: 1 }) }]);
}

const kinds = (plan: ExecutionPlan): string[] => plan.launches.map((l) => l.kernel.replace(/^lb3?_/, '').replace(/\d+$/, ''));

/** The plan with its GEMV module's text edited by `edit` (which must change it). */
function mutated(plan: ExecutionPlan, edit: (ptx: string) => string): ExecutionPlan {
  const gemv = plan.kernels.find((k) => /_linear_argmax\d+$/.test(k.name))!;
  const before = plan.modules[gemv.module], after = edit(before);
  expect(after).not.toBe(before);
  return { ...plan, modules: { ...plan.modules, [gemv.module]: after } };
}

afterEach(() => { delete process.env.ARCTICC_ARGMAX_LAST_BLOCK; });

describe('argmax folded in the GEMV\'s last block', () => {
  it('plans no reduce launch after the GEMV variant; the tensor-core variant keeps its own', () => {
    const plan = compileProgram(head(300, 64), { maxDims: { B: 64 } });
    expect(kinds(plan)).toEqual(['linear_argmax', 'linear_tc_argmax', 'linear_tc_argmax', 'argmax_reduce']); // the 32-row-pass head kernel, the 64-row one, their reduce
    expect(plan.buffers.filter((b) => b.kind === 'counter').map((b) => `${b.name}: ${b.dtype}[${b.shape.join(',')}]`)).toEqual(['arrivals: i32[1]']);
    expect(kinds(compileProgram(head(300, 64), { maxDims: { B: 4 } }))).toEqual(['linear_argmax']);
    process.env.ARCTICC_ARGMAX_LAST_BLOCK = '0';
    expect(kinds(compileProgram(head(300, 64), { maxDims: { B: 4 } }))).toEqual(['linear_argmax', 'argmax_reduce']);
    process.env.ARCTICC_ARGMAX_LAST_BLOCK = 'yes';
    expect(() => compileProgram(head(300, 64), { maxDims: { B: 4 } })).toThrow(/ARCTICC_ARGMAX_LAST_BLOCK must be 0 or 1, got "yes"/);
  });

  // N = 4096 at 1 and 3 rows: the fixture speculators' heads (512 blocks, two partials per thread of the last block)
  it.each([[300, 64, 1], [300, 64, 2], [300, 64, 3], [300, 64, 4], [4096, 32, 1], [4096, 32, 3], [37, 40, 4], [300, 64, 9]] as const)(
    'N=%i K=%i at batch %i equals the interpreter', (n, k, batch) => {
      const g = head(n, k);
      const { inputs, params } = randomInputs(g, rng(7 * n + k + batch), new Map([['B', batch]]));
      const want = [...interpret(g, inputs, params).tok.data];
      expect([...runPlanSim(compileProgram(g, { maxDims: { B: 64 } }), inputs, params).tok.data]).toEqual(want);
      process.env.ARCTICC_ARGMAX_LAST_BLOCK = '0';
      expect([...runPlanSim(compileProgram(g, { maxDims: { B: 64 } }), inputs, params).tok.data]).toEqual(want);
    });

  it('three heads in one plan share the counter (each launch leaves it zero)', () => {
    const g = threeHeads(200, 48);
    const plan = compileProgram(g, { maxDims: { B: 4 } });
    expect(kinds(plan).filter((x) => x === 'argmax_reduce')).toEqual([]);
    expect(plan.buffers.filter((b) => b.kind === 'counter')).toHaveLength(1);
    for (const batch of [1, 3]) {
      const { inputs, params } = randomInputs(g, rng(batch), new Map([['B', batch]]));
      const want = interpret(g, inputs, params), got = runPlanSim(plan, inputs, params);
      for (const o of ['tok0', 'tok1', 'tok2']) expect([...got[o].data]).toEqual([...want[o].data]);
    }
  });

  it.each([[1, '1'], [3, '1'], [3, '0'], [9, '1']] as const)('the heads write their columns of the draft tokens in place (batch %i, last block %s): no concat kernel', (batch, lb) => {
    process.env.ARCTICC_ARGMAX_LAST_BLOCK = lb;
    const g = draftTokens(200, 48);
    const plan = compileProgram(g, { maxDims: { B: 16 } });
    expect(kinds(plan)).toEqual(kinds(compileProgram(threeHeads(200, 48), { maxDims: { B: 16 } }))); // the heads' plan, no kernel more
    const { inputs, params } = randomInputs(g, rng(40 + batch), new Map([['B', batch]]));
    expect([...runPlanSim(plan, inputs, params).draft.data]).toEqual([...interpret(g, inputs, params).draft.data]);
  });

  describe('the simulator catches a broken protocol', () => {
    const g = head(300, 64);
    const { inputs, params } = randomInputs(g, rng(5), new Map([['B', 2]]));
    const plan = compileProgram(g, { maxDims: { B: 4 } });
    it('runs the intact plan', () => { expect(() => runPlanSim(plan, inputs, params)).not.toThrow(); });
    it('no release fence before the arrival', () => {
      expect(() => runPlanSim(mutated(plan, (p) => p.replace(/fence\.acq_rel\.gpu;\n(\s*atom)/, '$1')), inputs, params)).toThrow(/not released by its writer/);
    });
    it('no acquire fence after the arrival', () => {
      expect(() => runPlanSim(mutated(plan, (p) => p.replace(/(atom\.global\.add\.u32[^\n]*\n)\s*fence\.acq_rel\.gpu;\n/, '$1')), inputs, params)).toThrow(/not acquired by this block/);
    });
    it('the partials read through ld.global.nc', () => {
      expect(() => runPlanSim(mutated(plan, (p) => p.replaceAll('ld.global.cg', 'ld.global.nc')), inputs, params)).toThrow(/read through ld\.global\.nc/);
    });
    it('the counter not reset (38 blocks arrived)', () => {
      expect(() => runPlanSim(mutated(plan, (p) => p.replace(/@!%p\d+ st\.global\.u32 \[%rd\d+\], 0;\n/, '')), inputs, params)).toThrow(/left counter counter:arrivals at 38/ );
    });
  });
});
