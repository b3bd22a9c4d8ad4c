// Every IR op, compiled to PTX and run through the executor, against the reference interpreter on fresh
// random inputs. Outputs (and the temp arena) are filled with 0xFF before each run, so an element a kernel
// failed to write reads as NaN / -1 / 255 and fails the comparison. B=5 runs in the 6-row bucket, so the
// padded row is exercised too. Tolerances (|gpu − ref| ≤ abs + rel·|ref|, ref = float64 rounded once):
//   exact: data movement, integer ops, compares, where, casts, max/min/neg/abs, add/sub/mul (one correctly
//          rounded f32 op), argmax/topk/reduce_max, gather;
//   div, recip, sqrt, rsqrt: rel 1e-6 (≤ ~8 ulp: the approx forms are 1–2 ulp);
//   exp, log, tanh, erf, sigmoid, gelu: abs 1e-6 + rel 1e-5 (f32 range reduction on |x| ≤ 8);
//   on bf16 storage: rel 2^-8 (one bf16 ulp: the f32 result may round across a bf16 boundary);
//   sum/softmax/norms/matmul/linear: abs 2e-5 + rel 1e-5 (f32 accumulation order, K ≤ 512, |x| ≤ 1).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DType } from '../../compiler/ir/dtype.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import { makeGraph } from '../../compiler/ir/graph.ts';
import { interpret } from '../../compiler/ir/interp.ts';
import { Node } from '../../compiler/ir/node.ts';
import type { Arg, Op } from '../../compiler/ir/ops.ts';
import type { Dim } from '../../compiler/ir/shape.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor, numel, reader, writer } from '../../compiler/ir/tensor-data.ts';
import type { CudaDevice } from '../../runtime/cuda/device.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { PlanExecutor } from '../../runtime/cuda/executor.ts';
import { describeGpuCompiled, freshSeed, rng } from './gpu-env.ts';

interface Tol { abs: number; rel: number }
const EXACT: Tol = { abs: 0, rel: 0 };
const DIVISH: Tol = { abs: 0, rel: 1e-6 };
const TRANS: Tol = { abs: 1e-6, rel: 1e-5 };
const BF16: Tol = { abs: 0, rel: 2 ** -8 };
const ACC: Tol = { abs: 2e-5, rel: 1e-5 };

const B = 5;
const seed = freshSeed();
const rand = rng(seed);

const inp = (name: string, dtype: DType, shape: Dim[]) => Node.make('input', [], { name }, dtype, shape);
const par = (name: string, dtype: DType, shape: Dim[]) => Node.make('param', [], { name }, dtype, shape);
const mk = (op: Op, src: Node[], arg: Arg = null, dtype?: DType) => Node.make(op, src, arg, dtype);

/** Random values in [lo, hi) stored in `dtype` (ints rounded). */
function randomTensor(dtype: DType, shape: number[], lo = -1, hi = 1): HostTensor {
  const t = hostTensor(dtype, shape);
  const w = writer(t);
  for (let i = 0; i < numel(shape); i++) {
    const v = lo + (hi - lo) * rand();
    w(i, dtype === 'i32' || dtype === 'i64' ? Math.floor(v) : dtype === 'bool' ? (v > 0 ? 1 : 0) : v);
  }
  return t;
}

interface Case {
  graph: Graph;
  inputs: Record<string, HostTensor>;
  params?: Map<string, HostTensor>;
  tol: Tol;
}

const one = (out: Node, inputs: Node[]): Graph => makeGraph('op_test', inputs, [{ name: 'out', node: out }]);
const x37 = () => inp('x', 'f32', ['B', 37]);
const y37 = () => inp('y', 'f32', ['B', 37]);

function unary(op: Op, lo: number, hi: number, tol: Tol, arg: Arg = null, dtype: DType = 'f32'): Case {
  const x = inp('x', dtype, ['B', 37]);
  return { graph: one(mk(op, [x], arg), [x]), inputs: { x: randomTensor(dtype, [B, 37], lo, hi) }, tol };
}
function binary(op: Op, tol: Tol, dtype: DType = 'f32', lo = -4, hi = 4): Case {
  const x = inp('x', dtype, ['B', 37]), y = inp('y', dtype, ['B', 37]);
  const xs = randomTensor(dtype, [B, 37], lo, hi), ys = randomTensor(dtype, [B, 37], lo, hi);
  // some equal pairs, so cmpeq/max/min see ties
  for (let i = 0; i < xs.data.length; i += 5) (ys.data as Float32Array)[i] = (xs.data as Float32Array)[i];
  if (op === 'div' && dtype !== 'f32') for (let i = 0; i < ys.data.length; i++) if ((ys.data as Int32Array)[i] === 0) (ys.data as Int32Array)[i] = 1;
  return { graph: one(mk(op, [x, y]), [x, y]), inputs: { x: xs, y: ys }, tol };
}
function cast(from: DType, to: DType, lo = -8, hi = 8): Case {
  const x = inp('x', from, ['B', 37]);
  return { graph: one(mk('cast', [x], null, to), [x]), inputs: { x: randomTensor(from, [B, 37], lo, hi) }, tol: EXACT };
}
function reduce(op: Op, shape: number[], arg: Arg, tol: Tol): Case {
  const x = inp('x', 'f32', ['B', ...shape]);
  return { graph: one(mk(op, [x], arg), [x]), inputs: { x: randomTensor('f32', [B, ...shape]) }, tol };
}
function contraction(op: 'matmul' | 'linear', k: number, n: number, wd: DType): Case {
  const x = inp('x', 'f32', ['B', k]);
  const wShape = op === 'matmul' ? [k, n] : [n, k];
  const w = par('w', wd, wShape);
  return { graph: one(mk(op, [x, w]), [x]), inputs: { x: randomTensor('f32', [B, k]) }, params: new Map([['w', randomTensor(wd, wShape, -0.5, 0.5)]]), tol: ACC };
}
function gather(td: DType, idShape: Dim[], idReal: number[]): Case {
  const table = par('table', td, [50, 24]);
  const ids = inp('ids', 'i32', idShape);
  return { graph: one(mk('gather', [table, ids]), [ids]), inputs: { ids: randomTensor('i32', idReal, 0, 50) }, params: new Map([['table', randomTensor(td, [50, 24], -2, 2)]]), tol: EXACT };
}

const CASES: Record<string, () => Case> = {
  neg: () => unary('neg', -4, 4, EXACT),
  abs: () => unary('abs', -4, 4, EXACT),
  'neg i32': () => unary('neg', -1000, 1000, EXACT, null, 'i32'),
  'abs i32': () => unary('abs', -1000, 1000, EXACT, null, 'i32'),
  exp: () => unary('exp', -8, 8, TRANS),
  log: () => unary('log', 0.01, 10, TRANS),
  sqrt: () => unary('sqrt', 0, 10, DIVISH),
  rsqrt: () => unary('rsqrt', 0.01, 10, DIVISH),
  recip: () => unary('recip', 0.1, 10, DIVISH),
  tanh: () => unary('tanh', -5, 5, TRANS),
  erf: () => unary('erf', -3, 3, TRANS),
  sigmoid: () => unary('sigmoid', -8, 8, TRANS),
  'gelu erf': () => unary('gelu', -6, 6, TRANS, { approx: 'erf' }),
  'gelu tanh': () => unary('gelu', -6, 6, TRANS, { approx: 'tanh' }),
  'tanh on bf16': () => unary('tanh', -3, 3, BF16, null, 'bf16'),
  'exp on f16': () => unary('exp', -3, 3, { abs: 0, rel: 2 ** -11 }, null, 'f16'),
  add: () => binary('add', EXACT),
  sub: () => binary('sub', EXACT),
  mul: () => binary('mul', EXACT),
  div: () => binary('div', DIVISH),
  max: () => binary('max', EXACT),
  min: () => binary('min', EXACT),
  cmplt: () => binary('cmplt', EXACT),
  cmpeq: () => binary('cmpeq', EXACT),
  'add bf16': () => binary('add', BF16, 'bf16'),
  'add i32': () => binary('add', EXACT, 'i32', -1e6, 1e6),
  'mul i32': () => binary('mul', EXACT, 'i32', -1e5, 1e5),
  'div i32': () => binary('div', EXACT, 'i32', -1000, 1000),
  'cmplt i32': () => binary('cmplt', EXACT, 'i32', -10, 10),
  where: () => {
    const x = x37(), y = y37();
    return { graph: one(mk('where', [mk('cmplt', [x, y]), x, y]), [x, y]), inputs: { x: randomTensor('f32', [B, 37]), y: randomTensor('f32', [B, 37]) }, tol: EXACT };
  },
  'cast f32→bf16': () => cast('f32', 'bf16'),
  'cast f32→f16': () => cast('f32', 'f16'),
  'cast f32→fp8e4m3': () => cast('f32', 'fp8e4m3', -600, 600),
  'cast bf16→f32': () => cast('bf16', 'f32'),
  'cast fp8e4m3→f32': () => cast('fp8e4m3', 'f32', -400, 400),
  'cast f32→i32': () => cast('f32', 'i32', -100, 100),
  'cast i32→f32': () => cast('i32', 'f32', -1e6, 1e6),
  'cast f32→bool': () => cast('f32', 'bool', -1, 1),
  'cast bool→i32': () => cast('bool', 'i32', -1, 1),
  'sum last axis': () => reduce('sum', [37], { axis: 1 }, ACC),
  'sum middle axis': () => reduce('sum', [5, 7], { axis: 1 }, ACC),
  'sum wide row': () => reduce('sum', [3000], { axis: 1 }, { abs: 2e-4, rel: 1e-5 }),
  reduce_max: () => reduce('reduce_max', [37], { axis: 1 }, EXACT),
  'argmax narrow': () => reduce('argmax', [37], { axis: 1 }, EXACT),
  'argmax vocab': () => reduce('argmax', [5000], { axis: 1 }, EXACT),
  'argmax middle axis': () => reduce('argmax', [6, 4], { axis: 1 }, EXACT),
  topk_values: () => reduce('topk_values', [300], { k: 4 }, EXACT),
  topk_indices: () => reduce('topk_indices', [300], { k: 4 }, EXACT),
  softmax: () => reduce('softmax', [37], null, { abs: 1e-6, rel: 1e-5 }),
  rms_norm: () => reduce('rms_norm', [64], { eps: 1e-6 }, ACC),
  layer_norm: () => reduce('layer_norm', [48], { eps: 1e-5 }, ACC),
  'matmul f32': () => contraction('matmul', 33, 17, 'f32'),
  'matmul bf16 weight': () => contraction('matmul', 33, 17, 'bf16'),
  'linear bf16 weight': () => contraction('linear', 64, 48, 'bf16'),
  'linear wide': () => contraction('linear', 512, 300, 'bf16'),
  'linear f32 weight': () => contraction('linear', 40, 24, 'f32'),
  'gather bf16': () => gather('bf16', ['B'], [B]),
  'gather f32 2-d ids': () => gather('f32', ['B', 3], [B, 3]),
  reshape: () => {
    const x = inp('x', 'f32', ['B', 6, 4]);
    return { graph: one(mk('reshape', [x], { shape: ['B', 24] }), [x]), inputs: { x: randomTensor('f32', [B, 6, 4]) }, tol: EXACT };
  },
  broadcast: () => {
    const x = x37(), w = par('w', 'f32', [37]);
    return { graph: one(mk('add', [x, mk('broadcast', [w], { shape: ['B', 37] })]), [x]), inputs: { x: randomTensor('f32', [B, 37]) }, params: new Map([['w', randomTensor('f32', [37])]]), tol: EXACT };
  },
  permute: () => {
    const x = inp('x', 'f32', ['B', 5, 7]);
    return { graph: one(mk('permute', [x], { perm: [0, 2, 1] }), [x]), inputs: { x: randomTensor('f32', [B, 5, 7]) }, tol: EXACT };
  },
  slice: () => {
    const x = x37();
    return { graph: one(mk('slice', [x], { axis: 1, start: 3, end: 20 }), [x]), inputs: { x: randomTensor('f32', [B, 37]) }, tol: EXACT };
  },
  concat: () => {
    const a = inp('a', 'f32', ['B', 5]), b = inp('b', 'f32', ['B', 7]);
    return { graph: one(mk('concat', [a, b], { axis: 1 }), [a, b]), inputs: { a: randomTensor('f32', [B, 5]), b: randomTensor('f32', [B, 7]) }, tol: EXACT };
  },
  const: () => {
    const x = x37();
    const c = Node.make('const', [], { value: 2.5 }, 'f32', ['B', 37]);
    return { graph: one(mk('mul', [x, c]), [x]), inputs: { x: randomTensor('f32', [B, 37]) }, tol: EXACT };
  },
};

function compare(name: string, got: HostTensor, ref: HostTensor, tol: Tol): void {
  expect(got.dtype, name).toBe(ref.dtype);
  expect(got.shape, name).toEqual(ref.shape);
  const g = reader(got), r = reader(ref);
  const bad: string[] = [];
  for (let i = 0; i < ref.data.length; i++) {
    const gv = g(i), rv = r(i);
    const ok = Number.isNaN(rv) ? Number.isNaN(gv) : Math.abs(gv - rv) <= tol.abs + tol.rel * Math.abs(rv);
    if (!ok && bad.length < 5) bad.push(`[${i}] gpu ${gv} ref ${rv}`);
  }
  expect(bad, `${name} (seed ${seed}; tolerance abs ${tol.abs} rel ${tol.rel}): ${bad.join(', ')}`).toEqual([]);
}

describeGpuCompiled('every op vs the interpreter (fresh random inputs, poisoned outputs)', () => {
  let dev: CudaDevice;
  let compile: (g: Graph, maxDims: Record<string, number>) => import('../../compiler/codegen/plan.ts').ExecutionPlan;
  beforeAll(async () => {
    ({ compile } = await import('./compiled.ts'));
    dev = openDevice();
  });
  afterAll(() => { dev?.release(); });

  for (const [name, make] of Object.entries(CASES)) {
    it(name, () => {
      const c = make();
      const params = c.params ?? new Map<string, HostTensor>();
      const ref = interpret(c.graph, c.inputs, params).out;
      const plan = compile(c.graph, { B: 8 });
      const ex = new PlanExecutor(dev, plan, params, { graphs: false });
      try {
        ex.poisonOutputs(0xff);
        compare(name, ex.run(c.inputs).out, ref, c.tol);
        ex.poisonOutputs(0xff); // again through a captured graph
        compare(`${name} (graph)`, ex.run(c.inputs, { graph: true }).out, ref, c.tol);
      } finally {
        ex.close();
      }
    });
  }
});
