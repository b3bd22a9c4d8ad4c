// Every op with a VJP rule: autodiff against finite differences in the f64 interpreter.
import { describe, expect, it } from 'vitest';
import { gradients } from '../../../compiler/autodiff/grad.ts';
import { VJP } from '../../../compiler/autodiff/vjp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { Op } from '../../../compiler/ir/ops.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { checkGradients, f64Tensor, graphOf, rng } from './support.ts';

const mk = Node.make;
const inp = (name: string, shape: number[], dtype: 'f32' | 'i32' = 'f32') => mk('input', [], { name }, dtype, shape);

interface OpCase {
  name: string;
  ops: Op[];
  /** float operands (shapes), each differentiated */
  shapes: number[][];
  build: (xs: Node[], extra: Record<string, Node>) => Node;
  /** value generator per operand (default uniform in [-1.5, 1.5]) */
  gen?: (r: () => number, k: number) => number;
  ints?: Record<string, { shape: number[]; values: number[] }>;
}

const pos = (r: () => number) => 0.3 + 2 * r();
const cases: OpCase[] = [
  ...(['neg', 'exp', 'tanh', 'erf', 'sigmoid', 'abs'] as Op[]).map((op) => ({ name: op, ops: [op], shapes: [[2, 3]], build: ([x]: Node[]) => mk(op, [x]) })),
  ...(['log', 'sqrt', 'rsqrt', 'recip'] as Op[]).map((op) => ({ name: op, ops: [op], shapes: [[2, 3]], build: ([x]: Node[]) => mk(op, [x]), gen: pos })),
  { name: 'gelu erf', ops: ['gelu'], shapes: [[2, 3]], build: ([x]) => mk('gelu', [x], { approx: 'erf' }) },
  { name: 'gelu tanh', ops: ['gelu'], shapes: [[2, 3]], build: ([x]) => mk('gelu', [x], { approx: 'tanh' }) },
  { name: 'silu (x·sigmoid x)', ops: ['mul', 'sigmoid'], shapes: [[5]], build: ([x]) => mk('mul', [x, mk('sigmoid', [x])]) },
  ...(['add', 'sub', 'mul', 'max', 'min'] as Op[]).map((op) => ({ name: op, ops: [op], shapes: [[2, 3], [2, 3]], build: ([a, b]: Node[]) => mk(op, [a, b]) })),
  { name: 'div', ops: ['div'], shapes: [[2, 3], [2, 3]], build: ([a, b]) => mk('div', [a, b]), gen: (r, k) => (k === 1 ? pos(r) : 3 * r() - 1.5) },
  { name: 'where', ops: ['where', 'cmplt'], shapes: [[6], [6]], build: ([a, b]) => mk('where', [mk('cmplt', [a, b]), mk('exp', [a]), mk('mul', [b, b])]) },
  { name: 'cast', ops: ['cast'], shapes: [[4]], build: ([x]) => mk('mul', [mk('cast', [x], null, 'f32'), x]) },
  { name: 'sum axis 0 and 1', ops: ['sum'], shapes: [[3, 4]], build: ([x]) => mk('add', [mk('sum', [mk('sum', [mk('mul', [x, x])], { axis: 0 })], { axis: 0 }), mk('sum', [mk('sum', [mk('exp', [x])], { axis: 1 })], { axis: 0 })]) },
  { name: 'reduce_max', ops: ['reduce_max'], shapes: [[3, 5]], build: ([x]) => mk('reduce_max', [x], { axis: 1 }) },
  { name: 'softmax', ops: ['softmax'], shapes: [[2, 5]], build: ([x]) => mk('softmax', [x]) },
  { name: 'rms_norm', ops: ['rms_norm'], shapes: [[3, 4]], build: ([x]) => mk('rms_norm', [x], { eps: 1e-6 }) },
  { name: 'layer_norm', ops: ['layer_norm'], shapes: [[3, 4]], build: ([x]) => mk('layer_norm', [x], { eps: 1e-5 }) },
  { name: 'linear rank 2 and 3', ops: ['linear'], shapes: [[3, 4], [5, 4], [2, 3, 4]], build: ([x, w, y]) => mk('add', [mk('sum', [mk('linear', [x, w])], { axis: 0 }), mk('sum', [mk('sum', [mk('linear', [y, w])], { axis: 0 })], { axis: 0 })]) },
  { name: 'matmul', ops: ['matmul'], shapes: [[2, 3, 4], [4, 5]], build: ([a, b]) => mk('matmul', [a, b]) },
  { name: 'gather (→ scatter_add)', ops: ['gather'], shapes: [[5, 3]], ints: { ids: { shape: [2, 3], values: [4, 0, 4, 2, 2, 2] } }, build: ([t], e) => mk('gather', [t, e.ids]) },
  { name: 'scatter_add (→ gather)', ops: ['scatter_add'], shapes: [[4, 3]], ints: { ids: { shape: [4], values: [1, 0, 1, 5] } }, build: ([u], e) => mk('scatter_add', [u, e.ids], { rows: 6 }) },
  { name: 'one_hot pick of logits (cross-entropy building block)', ops: ['one_hot'], shapes: [[3, 5]], ints: { y: { shape: [3], values: [4, 0, 2] } }, build: ([x], e) => mk('sum', [mk('mul', [x, mk('one_hot', [e.y], { depth: 5 })])], { axis: 1 }) },
  { name: 'reshape', ops: ['reshape'], shapes: [[2, 6]], build: ([x]) => mk('mul', [mk('reshape', [x], { shape: [3, 4] }), mk('reshape', [mk('exp', [x])], { shape: [3, 4] })]) },
  { name: 'broadcast (→ sum)', ops: ['broadcast'], shapes: [[3, 1], [4, 3, 5]], build: ([x, y]) => mk('mul', [mk('broadcast', [x], { shape: [4, 3, 5] }), y]) },
  { name: 'permute', ops: ['permute'], shapes: [[2, 3, 4], [4, 2, 3]], build: ([x, y]) => mk('mul', [mk('permute', [x], { perm: [2, 0, 1] }), y]) },
  { name: 'slice (→ concat of zeros)', ops: ['slice'], shapes: [[3, 6]], build: ([x]) => mk('mul', [mk('slice', [x], { axis: 1, start: 1, end: 4 }), mk('slice', [x], { axis: 1, start: 2, end: 5 })]) },
  { name: 'concat (→ slices)', ops: ['concat'], shapes: [[2, 3], [2, 2]], build: ([a, b]) => { const c = mk('concat', [a, b, a], { axis: 1 }); return mk('mul', [c, c]); } },
];

const covered = new Set<Op>();
describe('VJP rules against finite differences (f64 interpreter)', () => {
  for (const c of cases) {
    it(c.name, () => {
      c.ops.forEach((o) => covered.add(o));
      const r = rng(c.name.length * 97 + 3);
      const xs = c.shapes.map((s, k) => inp(`x${k}`, s));
      const extra: Record<string, Node> = {};
      const inputs: Record<string, HostTensor> = {};
      for (const [name, v] of Object.entries(c.ints ?? {})) {
        extra[name] = inp(name, v.shape, 'i32');
        inputs[name] = hostTensor('i32', v.shape, Int32Array.from(v.values));
      }
      const y = c.build(xs, extra);
      // loss = Σ y ⊙ R with a fixed random R, so every output element matters differently
      const R = inp('R', y.shape as number[]);
      const flat = y.shape.length === 0 ? mk('mul', [y, R]) : (() => { let s = mk('mul', [y, R]); while (s.shape.length) s = mk('sum', [s], { axis: 0 }); return s; })();
      const grads = gradients(flat, xs);
      const graph = graphOf('check', [...xs, ...Object.values(extra), R], { loss: flat, ...Object.fromEntries(xs.map((x, k) => [`g${k}`, grads.get(x)!])) });
      c.shapes.forEach((s, k) => {
        const n = s.reduce((a, b) => a * b, 1);
        inputs[`x${k}`] = f64Tensor(s, Array.from({ length: n }, () => (c.gen ? c.gen(r, k) : 3 * r() - 1.5)));
      });
      const rn = (y.shape as number[]).reduce((a, b) => a * b, 1);
      inputs.R = f64Tensor(y.shape as number[], Array.from({ length: rn }, () => 2 * r() - 1));
      const n = checkGradients({ graph, inputs, params: new Map(), wrt: xs.map((_, k) => ({ kind: 'input', name: `x${k}`, output: `g${k}` })) }, { samples: 40 });
      expect(n).toBeGreaterThan(0);
    });
  }
  it('stop_gradient cuts its path; a bf16 round trip passes the gradient straight through', () => {
    covered.add('stop_gradient');
    const x = inp('x', [3]);
    const sq = (a: Node, b: Node) => mk('sum', [mk('mul', [a, b])], { axis: 0 });
    const g1 = gradients(sq(x, mk('stop_gradient', [x])), [x]).get(x)!;
    const g2 = gradients(sq(x, mk('cast', [mk('cast', [x], null, 'bf16')], null, 'f32')), [x]).get(x)!;
    const graph = graphOf('sg', [x], { a: g1, b: g2 });
    const out = interpret(graph, { x: hostTensor('f32', [3], Float32Array.of(1.5, -2, 0.25)) });
    expect(Array.from(out.a.data as Float32Array)).toEqual([1.5, -2, 0.25]);
    expect(Array.from(out.b.data as Float32Array)).toEqual([3, -4, 0.5]);
  });
  it('an op without a rule on the path is named', () => {
    const x = inp('x', [4]);
    const t = mk('topk_values', [x], { k: 2 });
    expect(() => gradients(mk('sum', [t], { axis: 0 }), [x])).toThrow('autodiff: no VJP rule for topk_values');
  });
  it('every op with a gradient-carrying rule has a case above', () => {
    const silent = new Set<Op>(['cmpeq', 'argmax', 'topk_indices']);
    const ruled = (Object.keys(VJP) as Op[]).filter((o) => !silent.has(o));
    expect(ruled.filter((o) => !covered.has(o))).toEqual([]);
  });
});
