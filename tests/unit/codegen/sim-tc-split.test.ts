// The tensor-core linear's launch geometry (compiler/schedule/tc-split.ts) on the PTX machine against the
// interpreter: the K split at ≤ 256 rows (slices summed by the reduce launch, which also stores the fused
// residual epilogue; passes along grid y), the unsplit kernel with one pass per block along grid x above
// (a 2-D grid: passes × column blocks) and its wide [8,2] block from 512 rows, K that ends inside a slice's
// last trip, e4m3 weights, an elementwise x computed in the split kernel's x load, bf16-rounded x in one mma
// term, and a norm-fused linear that is never split. All of them load the next k trip during this one's mmas. Each case asserts which
// launches run at its batch before comparing, so a moved threshold fails here.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import { reader, writer } from '../../../compiler/ir/tensor-data.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import { tcSlices, TC_SPLIT_WARP_TILES } from '../../../compiler/schedule/tc-split.ts';
import { defineProgram, rmsNorm } from '../../../dsl/index.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

/** the simulator's shapes are small: split from 2^14 weights (the default keeps the fixture's linears whole) */
const SMALL = { minWeights: 2 ** 14 };

function linearGraph(n: number, k: number, wd: DType = 'bf16'): Graph {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
  return makeGraph('tc', [x], [{ name: 'y', node: Node.make('linear', [x, w]) }]);
}

/** y = r + linear(SiLU(g)·u, w): an elementwise x and a residual epilogue */
function residualGraph(n: number, k: number): Graph {
  return defineProgram('res', { n, k }, (p) => {
    const r = p.input('r', ['B', 'n'], 'f32');
    const g = p.input('g', ['B', 'k'], 'f32'), u = p.input('u', ['B', 'k'], 'f32');
    p.output('y', r.add(g.silu().mul(u).linear(p.param('w', ['n', 'k'], 'bf16'))));
  }).graph;
}

/** y = x + linear(rmsNorm(x), w): the norm is fused into the x load, so the linear is never split */
function normGraph(h: number): Graph {
  return defineProgram('nrm', { h }, (p) => {
    const x = p.input('x', ['B', 'h'], 'f32');
    p.output('y', x.add(rmsNorm(x, { eps: 1e-5, weight: p.param('nw', ['h'], 'bf16') }).linear(p.param('w', ['h', 'h'], 'bf16'))));
  }).graph;
}

/** kernel-name suffixes of the launches that run at this batch, with their block counts (grid x · y · z) */
function live(plan: ExecutionPlan, batch: number): [string, number][] {
  const dims = new Map([['B', batch]]);
  return plan.launches.map((l) => [/_([a-z_]+?)\d+$/.exec(l.kernel)![1], l.grid.reduce<number>((a, g) => a * evalGrid(g, dims), 1)] as [string, number])
    .filter(([, n]) => n > 0);
}

function check(g: Graph, batch: number, maxB: number): { plan: ExecutionPlan; bad: number[] } {
  const { inputs, params } = randomInputs(g, rng(batch * 31 + maxB), new Map([['B', batch]]));
  // weights at a checkpoint's scale (±3/√K), so sums over K stay inside what the f32 contract bounds
  for (const [name, t] of params) {
    const r = reader(t), w = writer(t), K = t.shape[t.shape.length - 1] as number;
    for (let i = 0; i < t.data.length; i++) w(i, name === 'nw' ? 1 + r(i) / 12 : r(i) / Math.sqrt(K));
  }
  const plan = compileProgram(g, { maxDims: { B: maxB }, tcSplit: SMALL });
  return { plan, bad: mismatches(runPlanSim(plan, inputs, params).y, interpret(g, inputs, params).y, 1e-4) };
}

describe('tensor-core linear geometry', () => {
  it('splits along K only with few column blocks, K ≥ 512, and no fused norm', () => {
    const at = (n: number, k: number, wd: DType = 'bf16', rows = 64) => tcSlices(linearGraph(n, k, wd).outputs[0].node, rows, SMALL);
    // 8B shapes: o_proj / down_proj 64 blocks of 64 columns, qkv 96, gate_up 448; the 128256-row head needs none
    expect([at(4096, 4096), at(4096, 14336), at(6144, 4096), at(28672, 4096), at(128256, 4096)]).toEqual([9, 9, 6, 2, 1]);
    expect([at(4096, 256), at(4096, 511), at(100, 1000), at(100, 1008, 'fp8e4m3'), at(100, 1000, 'f32'), at(4096, 4096, 'bf16', 4)]).toEqual([1, 1, 3, 3, 1, 1]);
    expect(Math.ceil(TC_SPLIT_WARP_TILES / (64 * 4))).toBe(9);
    // by default linears of ≥ 2^17 weights split: the fixture's 256 × 768 down_proj (3 slices of 256), not a 256 × 384 one
    expect([tcSlices(linearGraph(256, 768).outputs[0].node, 64), tcSlices(linearGraph(1024, 4096).outputs[0].node, 64), tcSlices(linearGraph(256, 384).outputs[0].node, 64)]).toEqual([3, 16, 1]);
    expect(scheduleGraph(normGraph(512), { maxDims: { B: 64 }, tcSplit: SMALL }).kernels.filter((k) => k.tcSplit).length).toBe(0);
  });

  it.each([
    [100, 1000, 5, 64, 'bf16'], [100, 1024, 33, 64, 'bf16'], [37, 1536, 64, 64, 'bf16'], [100, 1008, 9, 40, 'fp8e4m3'], [61, 2048, 64, 64, 'fp8e4m3'],
  ] as const)('split: N=%i K=%i at batch %i (maxDims.B %i), %s weights', (n, k, batch, maxB, wd) => {
    const { plan, bad } = check(linearGraph(n, k, wd), batch, maxB);
    const s = tcSlices(linearGraph(n, k, wd).outputs[0].node, maxB, SMALL);
    expect(s).toBeGreaterThan(1);
    expect(live(plan, batch)).toEqual([['linear_tc_split', Math.ceil(n / 64) * s], ['linear_tc_reduce', Math.ceil((batch * n) / (n % 4 ? 256 : 1024))]]);
    expect(bad).toEqual([]);
  });

  it.each([[65, 200], [130, 200], [200, 200]] as const)('65 … 256 rows: the split with its passes along grid y (batch %i, maxDims.B %i)', (batch, maxB) => {
    const { plan, bad } = check(linearGraph(100, 1000), batch, maxB);
    const s = tcSlices(linearGraph(100, 1000).outputs[0].node, maxB, SMALL);
    expect(live(plan, batch)).toEqual([['linear_tc_split', 2 * s * Math.ceil(batch / 64)], ['linear_tc_reduce', Math.ceil((batch * 100) / 1024)]]);
    expect(bad).toEqual([]);
  });

  it.each([[257, 300], [300, 300]] as const)('above 256 rows: unsplit, one pass per block, passes along grid x (batch %i, maxDims.B %i)', (batch, maxB) => {
    const { plan, bad } = check(linearGraph(100, 1000), batch, maxB);
    expect(live(plan, batch)).toEqual([['linear_tc', Math.ceil(batch / 64) * 2]]);
    const l = plan.launches.find((x) => /_linear_tc\d+$/.test(x.kernel) && evalGrid(x.grid[0], new Map([['B', batch]])) > 0)!;
    expect(evalGrid(l.grid[1], new Map([['B', batch]]))).toBe(2); // the column blocks
    expect(bad).toEqual([]);
  });

  it('from 512 rows with N ≥ 256: the wide [8,2] block (256 columns), passes × column blocks', () => {
    const { plan, bad } = check(linearGraph(260, 64), 520, 600);
    expect(live(plan, 520)).toEqual([['linear_tc', 9 * 2]]);
    const l = plan.launches.find((x) => /_linear_tc\d+$/.test(x.kernel) && evalGrid(x.grid[0], new Map([['B', 520]])) > 0)!;
    expect(plan.kernels.find((k) => k.name === l.kernel)!.block[0]).toBe(256);
    // below 512 rows the usual block ([4,1]: 64 columns) runs
    const at300 = plan.launches.filter((x) => evalGrid(x.grid[0], new Map([['B', 300]])) > 0);
    expect(at300.map((x) => plan.kernels.find((k) => k.name === x.kernel)!.block[0])).toEqual([128]);
    expect(bad).toEqual([]);
  });

  it.each([[9, 64], [64, 64], [100, 128]] as const)('bf16-rounded x (a bf16-activation model) takes one mma term per activation, exactly (batch %i)', (batch, maxB) => {
    const g = defineProgram('b16', {}, (p) => {
      const x = p.input('x', ['B', 1024], 'f32');
      p.output('y', x.cast('bf16').cast('f32').linear(p.param('w', [96, 1024], 'bf16')));
    }).graph;
    const { plan, bad } = check(g, batch, maxB);
    const tc = plan.launches.map((l) => l.kernel).filter((n) => /linear_tc(_split)?\d+$/.test(n));
    expect(tc.length).toBeGreaterThan(0);
    // one mma per (16-column tile, k step): a three-term kernel has three times as many
    const mmas = (name: string): number => plan.modules[plan.kernels.find((k) => k.name === name)!.module].split('mma.sync').length - 1;
    const three = compileProgram(linearGraph(96, 1024), { maxDims: { B: maxB }, tcSplit: SMALL });
    const mmas3 = (name: string): number => three.modules[three.kernels.find((k) => k.name === name)!.module].split('mma.sync').length - 1;
    const names3 = three.launches.map((l) => l.kernel).filter((n) => /linear_tc(_split)?\d+$/.test(n));
    expect(tc.map(mmas).map((m, i) => 3 * m - mmas3(names3[i]))).toEqual(tc.map(() => 0));
    expect(bad).toEqual([]);
  });

  it.each([[3, 64], [5, 64], [48, 64], [64, 100], [100, 100]] as const)('residual epilogue and SiLU·up x through the split (batch %i, maxDims.B %i)', (batch, maxB) => {
    const { plan, bad } = check(residualGraph(96, 1024), batch, maxB);
    const kinds = live(plan, batch).map(([k]) => k);
    expect(kinds).toEqual(batch < 5 ? ['linear'] : ['linear_tc_split', 'linear_tc_reduce']);
    expect(bad).toEqual([]);
  });

  it.each([[9, 64], [100, 300]] as const)('ARCTICC_TC_PREFETCH=1: the next trip loaded during this one, same values (batch %i, maxDims.B %i)', (batch, maxB) => {
    process.env.ARCTICC_TC_PREFETCH = '1';
    try {
      const g = defineProgram('pf', {}, (p) => {
        const x = p.input('x', ['B', 1000], 'f32');
        p.output('y', x.cast('bf16').cast('f32').linear(p.param('w', [96, 1000], 'bf16')));
      }).graph;
      const { plan, bad } = check(g, batch, maxB);
      const tc = plan.kernels.filter((k) => /linear_tc(_split)?\d+$/.test(k.name)).map((k) => plan.modules[k.module]);
      // the prologue's loads and the loop's: twice the weight loads of the plain kernel's text
      expect(tc.every((t) => t.split('ld.global.nc.L1::no_allocate.v4.u32').length - 1 === 8)).toBe(true);
      expect(bad).toEqual([]);
    } finally {
      delete process.env.ARCTICC_TC_PREFETCH;
    }
  });

  it('a norm-fused linear stays whole at every batch', () => {
    for (const batch of [5, 40]) {
      const { plan, bad } = check(normGraph(512), batch, 64);
      expect(live(plan, batch).map(([k]) => k)).toEqual(['linear_tc']);
      expect(bad).toEqual([]);
    }
  });
});
