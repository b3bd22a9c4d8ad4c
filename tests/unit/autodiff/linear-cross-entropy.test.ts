// The chunked LM-head cross entropy (linearCrossEntropy, training-form.ts): loss and gradients equal the
// unchunked form's to f32 rounding on the interpreter (partial last chunks, labels in them), its own backward
// against finite differences in the f64 interpreter, and the training forms of the Arctic drafters and of
// the GRU example drafter built with it.
import { describe, expect, it } from 'vitest';
import { gradients } from '../../../compiler/autodiff/grad.ts';
import type { CustomVjp } from '../../../compiler/autodiff/grad.ts';
import { crossEntropyChunk, linearCrossEntropy, trainingForm } from '../../../compiler/autodiff/training-form.ts';
import { konst } from '../../../compiler/autodiff/vjp.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { graphNodes } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';
import { gruDrafter } from '../../../examples/drafters/gru-drafter.ts';
import { checkGradients, f64Tensor, graphOf, rng } from './support.ts';

const mk = Node.make;

/** loss = mean over rows of CE(linear(x, w), labels), with gradients g0 (x) and g1 (w). */
function ceGraph(M: number, K: number, V: number, chunk: number): { graph: Graph; chunks: number } {
  const x = mk('input', [], { name: 'x' }, 'f32', [M, K]);
  const w = mk('input', [], { name: 'w' }, 'f32', [V, K]);
  const y = mk('input', [], { name: 'y' }, 'i32', [M]);
  // x enters through an elementwise op, as a drafter's head input does
  const h = mk('tanh', [x]);
  const f = linearCrossEntropy(h, w, y, { chunk });
  const loss = mk('mul', [mk('sum', [f.loss], { axis: 0 }), konst(1 / M, [])]);
  const custom = new Map<Node, CustomVjp>(f.vjp ? [[f.loss, f.vjp]] : []);
  const gr = gradients(loss, [x, w], undefined, custom);
  return { graph: graphOf('ce', [x, w, y], { loss, g0: gr.get(x)!, g1: gr.get(w)! }), chunks: f.chunks };
}

function batch(M: number, K: number, V: number, seed: number, labels: number[], f64 = false): Record<string, HostTensor> {
  const r = rng(seed);
  const u = (n: number, s: number) => Array.from({ length: n }, () => (2 * r() - 1) * s);
  const t = (shape: number[], v: number[]) => (f64 ? f64Tensor(shape, v) : hostTensor('f32', shape, Float32Array.from(v)));
  return { x: t([M, K], u(M * K, 2)), w: t([V, K], u(V * K, 1.5)), y: hostTensor('i32', [M], Int32Array.from(labels)) };
}

/** max |a − b| / max(1, max |b|) over the elements */
function relErr(a: HostTensor, b: HostTensor): number {
  const x = a.data as Float32Array, y = b.data as Float32Array;
  expect(x.length).toBe(y.length);
  let d = 0, m = 0;
  for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i] - y[i])); m = Math.max(m, Math.abs(y[i])); }
  return d / Math.max(1e-30, m);
}

describe('linearCrossEntropy: chunked equals unchunked (f32 interpreter)', () => {
  it.each([
    // M, K, V, chunk, labels: some in the last (partial) chunk
    [5, 6, 37, 8, (V: number) => [36, 0, 33, 8, 32]],
    [16, 8, 100, 32, (V: number) => Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? V - 1 - (i % 4) : (i * 7) % V))],
    [7, 4, 64, 16, (V: number) => [63, 48, 15, 16, 0, 47, 31]],
    [3, 5, 300, 128, (V: number) => [V - 1, 256, 127]],
  ] as const)('M %i, K %i, V %i, chunk %i', (M, K, V, chunk, labels) => {
    const a = ceGraph(M, K, V, chunk), b = ceGraph(M, K, V, V);
    expect(a.chunks).toBe(Math.ceil(V / chunk));
    expect(a.chunks).toBeGreaterThanOrEqual(2);
    expect(b.chunks).toBe(1);
    // no [M, V] tensor in the chunked graph: logits, softmax and their gradient exist per chunk only
    expect(graphNodes(a.graph).filter((n) => n.op !== 'one_hot' && n.shape.length === 2 && n.shape[0] === M && n.shape[1] === V)).toEqual([]);
    const inputs = batch(M, K, V, M * 31 + V, labels(V));
    const got = interpret(a.graph, inputs), want = interpret(b.graph, inputs);
    expect(relErr(got.loss, want.loss)).toBeLessThan(2e-6);
    expect(relErr(got.g0, want.g0)).toBeLessThan(5e-6);
    expect(relErr(got.g1, want.g1)).toBeLessThan(5e-6);
  });

  it('the automatic chunk: one chunk at the fixture vocabulary, multiples of 128 under 128 MiB at 128k', () => {
    expect(crossEntropyChunk(8096, 4096)).toBe(4096);
    expect(crossEntropyChunk(8096, 128256)).toBe(4096);
    expect(crossEntropyChunk(8096 * 4, 128256)).toBe(1024);
    expect(crossEntropyChunk(1 << 22, 128256)).toBe(128);
    expect(crossEntropyChunk(32, 128256)).toBe(128256);
  });
});

describe('linearCrossEntropy: its backward against finite differences (f64 interpreter)', () => {
  it.each([[4, 5, 23, 8], [6, 3, 40, 16]] as const)('M %i, K %i, V %i, chunk %i', (M, K, V, chunk) => {
    const { graph } = ceGraph(M, K, V, chunk);
    const labels = Array.from({ length: M }, (_, i) => (i % 2 ? V - 1 - i : (i * 5) % V));
    const n = checkGradients({ graph, inputs: batch(M, K, V, 9 + V, labels, true), params: new Map(), wrt: [
      { kind: 'input', name: 'x', output: 'g0' }, { kind: 'input', name: 'w', output: 'g1' },
    ] }, { samples: 30 });
    expect(n).toBeGreaterThan(40);
  });
});

describe('training forms with the chunked cross entropy', () => {
  const H = 6, D = 4, V = 21, n = 3, M = 5;
  const shape = { hiddenSize: H, width: D, vocabSize: V, nPredict: n, scaleInput: true };
  const drafters: [string, () => Graph][] = [
    ['Arctic LSTM', () => lstmSpeculator(shape).graph],
    ['Arctic MLP tied', () => mlpSpeculator({ ...shape, tieWeights: true }).graph],
    ['Arctic MLP untied', () => mlpSpeculator({ ...shape, scaleInput: false, tieWeights: false }).graph],
    ['the GRU example drafter (a user DSL file)', () => gruDrafter({ ...shape, scaleInput: false, tieWeights: false, weightDtype: () => 'bf16', config: {} }).graph],
  ];
  const data = (tfParams: readonly { name: string; shape: readonly number[] }[], seed: number, f64: boolean) => {
    const r = rng(seed);
    const u = (k: number, s: number) => Array.from({ length: k }, () => (2 * r() - 1) * s);
    const t = (s: readonly number[], v: number[]) => (f64 ? f64Tensor(s, v) : hostTensor('f32', [...s], Float32Array.from(v)));
    const params = new Map<string, HostTensor>();
    for (const p of tfParams) params.set(p.name, t(p.shape, u(p.shape.reduce((a, b) => a * b, 1), 0.8)));
    const inputs = {
      hidden: t([M, H], u(M * H, 2)),
      tokens: hostTensor('i32', [M], Int32Array.from({ length: M }, () => Math.floor(r() * V))),
      // column 0 in the last partial chunk (chunk 8: 16..20) for every row
      labels: hostTensor('i32', [M, n], Int32Array.from({ length: M * n }, (_, i) => (i % n === 0 ? 16 + (i % 5) : Math.floor(r() * V)))),
    };
    return { inputs, params };
  };

  for (const [name, build] of drafters) {
    it(`${name}: 3 chunks (the last partial) give the loss and every gradient of the unchunked form`, () => {
      const a = trainingForm(build(), { rows: M, ceChunk: 8 }), b = trainingForm(build(), { rows: M });
      expect(a.ceChunks).toBe(3);
      expect(b.ceChunks).toBe(1);
      const { inputs, params } = data(a.params, 3, false);
      const got = interpret(a.graph, inputs, params), want = interpret(b.graph, inputs, params);
      expect(relErr(got.loss, want.loss)).toBeLessThan(2e-6);
      expect(relErr(got.loss_heads, want.loss_heads)).toBeLessThan(2e-6);
      for (const p of a.params) expect(relErr(got[p.output], want[p.output]), p.name).toBeLessThan(1e-5);
    });
    it(`${name}: the chunked training form against finite differences`, () => {
      const tf = trainingForm(build(), { rows: M, ceChunk: 8 });
      const { inputs, params } = data(tf.params, 4, true);
      const k = checkGradients({ graph: tf.graph, inputs, params, wrt: tf.params.map((p) => ({ kind: 'param', name: p.name, output: p.output })) }, { samples: 10, tol: 1e-6 });
      expect(k).toBeGreaterThan(40);
    });
  }
});
