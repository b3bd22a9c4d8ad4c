// Every linear kernel variant the shape rules can pick, on the PTX machine against the interpreter at the
// smallest shapes that select it (random inputs; K kept small, the rules key on N and the batch):
// the GEMV's 2 and 4 columns per warp (1: sim-contract.test.ts) (columnsPerWarp: N ≥ 8448 = 2·8·132·4 and N ≥ 16896; e4m3 always 4), the
// tensor-core linear's [8,1] and [8,2] block shapes ([4,1]: sim-linear-tc.test.ts) (tcShape: N/(warps·16·tiles) ≥ 264, so
// N ≥ 33792 and N ≥ 67584), the e4m3 128-wide k trip (maxDims.B ≤ 32) and its 64-wide one (B up to 64),
// each stored and with the fused argmax (plain and fp8-scaled). Each case asserts the plan really holds
// the variant (grid, block, .maxnreg) before comparing, so a moved threshold fails here, not silently.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { columnsPerWarp } from '../../../compiler/codegen/ptx/kernel-linear.ts';
import { tcShape } from '../../../compiler/codegen/ptx/kernel-linear-tc.ts';
import type { DType } from '../../../compiler/ir/dtype.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { rng } from '../../support/random-graph.ts';
import { mismatches, randomInputs } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

type Head = 'stored' | 'argmax' | 'scaled-argmax';

function graph(n: number, k: number, wd: DType, head: Head) {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
  let y = Node.make('linear', [x, w]);
  if (head === 'stored') return makeGraph('v', [x], [{ name: 'y', node: y }]);
  if (head === 'scaled-argmax') {
    const scale = Node.make('param', [], { name: 'scale' }, 'f32', [n]);
    y = Node.make('mul', [y, Node.make('broadcast', [scale], { shape: ['B', n] })]);
  }
  return makeGraph('v', [x], [{ name: 'y', node: Node.make('argmax', [y], { axis: 1 }) }]);
}

/** The launches that run at this batch (gated grids > 0), with their block count (grid x · y), block x and module text. */
function live(plan: ExecutionPlan, batch: number) {
  const dims = new Map([['B', batch]]);
  return plan.launches.map((l) => ({ l, grid: evalGrid(l.grid[0], dims) * evalGrid(l.grid[1], dims) })).filter((x) => x.grid > 0).map(({ l, grid }) => {
    const k = plan.kernels.find((kk) => kk.name === l.kernel)!;
    return { kernel: l.kernel, grid, block: k.block[0], ptx: plan.modules[k.module] };
  });
}

function run(n: number, k: number, batch: number, maxB: number, wd: DType, head: Head): { plan: ExecutionPlan; bad: number[] } {
  const g = graph(n, k, wd, head);
  const { inputs, params } = randomInputs(g, rng(n * 13 + k * 7 + batch), new Map([['B', batch]]));
  const plan = compileProgram(g, { maxDims: { B: maxB } });
  const got = runPlanSim(plan, inputs, params).y, want = interpret(g, inputs, params).y;
  if (head === 'stored') return { plan, bad: mismatches(got, want, 1e-4) };
  const bad: number[] = [];
  want.data.forEach((v, i) => { if (got.data[i] !== v) bad.push(i); });
  return { plan, bad };
}

describe('shape rules', () => {
  it('columns per warp switch at N = 8448 and 16896; tensor-core blocks at N = 33792 and 67584', () => {
    expect([8447, 8448, 16895, 16896, 16384, 128256].map((n) => columnsPerWarp(n))).toEqual([1, 2, 2, 4, 2, 4]);
    expect([256, 8447, 16384].map((n) => columnsPerWarp(n, 1))).toEqual([4, 4, 4]); // e4m3: always 4
    expect([33791, 33792, 67583, 67584, 16384, 128256].map((n) => Object.values(tcShape(n)))).toEqual([
      [4, 1], [8, 1], [8, 1], [8, 2], [4, 1], [8, 2],
    ]);
  });
});

describe('GEMV columns per warp (≤ 4 rows)', () => {
  // N ≡ 1..3 mod the warp's columns: the last warp's tail columns read column N-1 and are not stored; e4m3
  // weights take 4 columns at any N
  it.each([
    [8448, 16, 1, 'bf16', 'stored', 2], [8451, 32, 4, 'fp8e4m3', 'stored', 4],
    [8449, 16, 2, 'bf16', 'argmax', 2], [8450, 16, 3, 'fp8e4m3', 'scaled-argmax', 4],
    [259, 32, 3, 'fp8e4m3', 'stored', 4], [262, 32, 2, 'fp8e4m3', 'scaled-argmax', 4],
    [16896, 16, 4, 'bf16', 'stored', 4], [16899, 16, 1, 'fp8e4m3', 'stored', 4],
    [16897, 16, 3, 'bf16', 'argmax', 4], [16898, 16, 2, 'fp8e4m3', 'scaled-argmax', 4],
  ] as const)('N=%i K=%i at batch %i, %s weights, %s: %i columns per warp', (n, k, batch, wd, head, cols) => {
    const { plan, bad } = run(n, k, batch, 8, wd, head);
    const gemv = live(plan, batch)[0];
    expect(gemv.kernel).toMatch(/_linear(_argmax)?\d+$/);
    expect(gemv.grid).toBe(Math.ceil(n / (8 * cols)));
    expect(bad).toEqual([]);
  });
});

describe('tensor-core block shapes (≥ 5 rows)', () => {
  // [warps, tiles]; e4m3 with maxDims.B ≤ 32 takes the 128-wide trip (.maxnreg 128), else the 64-wide one
  it.each([
    [33792, 16, 5, 8, 'bf16', 'stored', 8, 1], [33795, 16, 5, 8, 'bf16', 'argmax', 8, 1],
    [33800, 128, 6, 8, 'fp8e4m3', 'scaled-argmax', 8, 1],
    [67584, 16, 5, 8, 'bf16', 'stored', 8, 2], [67590, 16, 6, 8, 'bf16', 'argmax', 8, 2],
    [67601, 16, 7, 8, 'fp8e4m3', 'scaled-argmax', 8, 2], [67585, 16, 5, 40, 'fp8e4m3', 'stored', 8, 2],
  ] as const)('N=%i K=%i at batch %i (maxDims.B %i), %s weights, %s: [%i,%i]', (n, k, batch, maxB, wd, head, warps, tiles) => {
    const { plan, bad } = run(n, k, batch, maxB, wd, head);
    const runs = live(plan, batch);
    const tc = runs[0];
    expect(tc.kernel).toMatch(/linear_tc/);
    expect(runs.length).toBe(head === 'stored' ? 1 : 2); // the partials kernel and its reduce
    expect([tc.block, tc.grid]).toEqual([warps * 32, Math.ceil(n / (warps * 16 * tiles))]);
    if (wd === 'fp8e4m3') expect(tc.ptx).toContain(maxB <= 32 ? '.maxnreg 128' : '.maxnreg 168');
    else expect(tc.ptx).toContain('.maxnreg 168');
    expect(bad).toEqual([]);
  });
});

describe('fused tensor-core head: a 32-row-pass kernel up to 32 rows when sized for more (HEAD_PASS_ROWS)', () => {
  // at maxDims.B 64 the 64-row kernel needs 150-158 registers at the 8B head (one block per SM); the extra
  // kernel (≤ 32 rows per pass) runs for 5 … 32 rows and the 64-row one above; both share the reduce
  it.each([[5, 'small'], [32, 'small'], [33, 'big'], [64, 'big']] as const)('batch %i at maxDims.B 64 runs the %s kernel, tokens equal the interpreter', (batch, which) => {
    for (const [wd, head] of [['bf16', 'argmax'], ['fp8e4m3', 'scaled-argmax']] as const) {
      const { plan, bad } = run(700, 32, batch, 64, wd, head);
      const tcs = plan.launches.filter((l) => /linear_tc_argmax/.test(l.kernel));
      // (an e4m3 head takes the tensor cores from 4 rows: FP8_HEAD_TC_MIN_ROWS)
      expect(tcs.map((l) => l.grid[0])).toEqual([
        { ceilDiv: [[Math.ceil(700 / 64)], 1], when: { dims: ['B'], atLeast: wd === 'bf16' ? 5 : 4, atMost: 32 } },
        { ceilDiv: [[Math.ceil(700 / 64)], 1], when: { dims: ['B'], atLeast: 33 } },
      ]);
      const runs = live(plan, batch);
      expect(runs.map((r) => r.kernel)).toEqual([tcs[which === 'small' ? 0 : 1].kernel, expect.stringMatching(/argmax_reduce/)]);
      // the small kernel stages 4 batch tiles of x per pass, the big one 8: bf16 shared x buffers differ 2×;
      // e4m3 takes the 128-wide k trip at ≤ 32 rows per pass (.maxnreg 128), so its buffers are the same size
      const xs = (ptx: string) => Number(/\.shared \.align 16 \.b8 xs\[(\d+)\]/.exec(ptx)?.[1]);
      const [small, big] = tcs.map((l) => plan.modules[plan.kernels.find((k) => k.name === l.kernel)!.module]);
      if (wd === 'bf16') expect(xs(big)).toBe(2 * xs(small));
      else expect([xs(big), small.includes('.maxnreg 128'), big.includes('.maxnreg 168')]).toEqual([xs(small), true, true]);
      expect(bad).toEqual([]);
    }
  });
});

describe('one-term fused head above 32 rows: one column tile per warp, its own reduce', () => {
  // x already bf16 (bf16-activations): at N ≥ 67584 ([8,2] blocks) the kernel for 33+ rows takes [8,1] blocks
  // (half the accumulators: two blocks per SM at the 8B head), so twice the column blocks and a second reduce
  it.each([[5, 'small', 'bf16'], [33, 'one tile', 'bf16'], [40, 'one tile', 'fp8e4m3']] as const)('N = 67590 at batch %i (maxDims.B 64): the %s kernel, %s weights, tokens equal the interpreter', (batch, which, wd) => {
    const n = 67590, k = 16;
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', k]);
    const w = Node.make('param', [], { name: 'w' }, wd, [n, k]);
    const xb = Node.make('cast', [Node.make('cast', [x], null, 'bf16')], null, 'f32');
    let y = Node.make('linear', [xb, w]);
    if (wd === 'fp8e4m3') y = Node.make('mul', [y, Node.make('broadcast', [Node.make('param', [], { name: 'scale' }, 'f32', [n])], { shape: ['B', n] })]);
    const g = makeGraph('v', [x], [{ name: 'y', node: Node.make('argmax', [y], { axis: 1 }) }]);
    const { inputs, params } = randomInputs(g, rng(batch), new Map([['B', batch]]));
    const plan = compileProgram(g, { maxDims: { B: 64 } });
    const tcs = plan.launches.filter((l) => /linear_tc_argmax/.test(l.kernel));
    expect(tcs.map((l) => l.grid[0])).toEqual([
      { ceilDiv: [[Math.ceil(n / 256)], 1], when: { dims: ['B'], atLeast: wd === 'bf16' ? 5 : 4, atMost: 32 } },
      { ceilDiv: [[Math.ceil(n / 128)], 1], when: { dims: ['B'], atLeast: 33 } },
    ]);
    // (the rounding of the input is stored once by a map kernel first)
    const runs = live(plan, batch).filter((r) => !/_map\d+$/.test(r.kernel));
    expect(runs.map((r) => [r.kernel, r.grid])).toEqual([
      [tcs[which === 'small' ? 0 : 1].kernel, Math.ceil(n / (which === 'small' ? 256 : 128))],
      [expect.stringMatching(/argmax_reduce/), batch],
    ]);
    const got = runPlanSim(plan, inputs, params).y.data, want = interpret(g, inputs, params).y.data;
    expect(Array.from(got as Int32Array)).toEqual(Array.from(want as Int32Array));
  }, 120_000);
});

describe('a fused e4m3 head takes the tensor cores from 4 rows (FP8_HEAD_TC_MIN_ROWS), bf16 from 5', () => {
  it.each([
    [3, 'fp8e4m3', 'scaled-argmax', 'linear_argmax'], [4, 'fp8e4m3', 'scaled-argmax', 'linear_tc_argmax'],
    [4, 'bf16', 'argmax', 'linear_argmax'], [4, 'fp8e4m3', 'stored', 'linear'],
  ] as const)('batch %i, %s weights, %s: %s, outputs equal the interpreter', (batch, wd, head, kind) => {
    const { plan, bad } = run(600, 32, batch, 8, wd, head);
    expect(live(plan, batch)[0].kernel).toMatch(new RegExp(`_${kind}\\d+$`));
    expect(bad).toEqual([]);
  });
});

describe('GEMV rows per pass', () => {
  // 4-row passes, then a 3-row pass (no fusion, as here), a 2-row one, then single rows (batch 2 and 3 used to
  // take one pass per row, reading the weight 2 and 3 times: the 8B LSTM draft took 1.70 ms at batch 2 against
  // 1.04 at 4); past maxDims.B 4 (the simulator binds any B) the loop runs 7 rows as 4 + 3 and 6 as 4 + 2
  it.each([[1, 1], [2, 1], [3, 1], [4, 1], [6, 2], [7, 2]] as const)('batch %i reads the weight %i time(s), outputs equal the interpreter', (batch, times) => {
    const n = 96, k = 64;
    const g = graph(n, k, 'bf16', 'stored');
    const { inputs, params } = randomInputs(g, rng(batch * 31), new Map([['B', batch]]));
    const plan = compileProgram(g, { maxDims: { B: 4 } });
    const loads = new Map<string, number>();
    const got = runPlanSim(plan, inputs, params, { loadBytes: loads }).y;
    expect(mismatches(got, interpret(g, inputs, params).y, 1e-4)).toEqual([]);
    const wBuf = plan.buffers.find((b) => b.kind === 'param' && b.name === 'w')!;
    expect(loads.get(wBuf.id)).toBe(times * n * k * 2);
  });
});
