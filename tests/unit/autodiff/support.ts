// Gradient checks: the autodiff gradient of a scalar loss, evaluated in the f64 interpreter, against
// central finite differences of the same loss in the f64 interpreter.
import { expect } from 'vitest';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import type { Node } from '../../../compiler/ir/node.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { withF64 } from '../../../compiler/ir/tensor-data.ts';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** An f32 host tensor whose storage is float64 (exact perturbations in the f64 interpreter). */
export const f64Tensor = (shape: readonly number[], values: ArrayLike<number>): HostTensor =>
  ({ dtype: 'f32', shape: [...shape], data: Float64Array.from(values) as unknown as Float32Array });

export interface CheckCase {
  /** the loss graph: outputs `loss` (scalar) and `g<i>` per differentiated tensor */
  graph: Graph;
  inputs: Record<string, HostTensor>;
  params: Map<string, HostTensor>;
  /** the differentiated tensors: where each lives, and its gradient output */
  wrt: { kind: 'input' | 'param'; name: string; output: string }[];
}

const lossOf = (c: CheckCase): number => Number(withF64(() => interpret(c.graph, c.inputs, c.params)).loss.data[0]);

/** Compare analytic and numeric gradients at up to `samples` elements of each differentiated tensor. */
export function checkGradients(c: CheckCase, o: { eps?: number; tol?: number; samples?: number; seed?: number } = {}): number {
  const eps = o.eps ?? 1e-6, tol = o.tol ?? 1e-6, samples = o.samples ?? 12;
  const out = withF64(() => interpret(c.graph, c.inputs, c.params));
  const r = rng(o.seed ?? 7);
  let checked = 0;
  for (const w of c.wrt) {
    const t = w.kind === 'input' ? c.inputs[w.name] : c.params.get(w.name)!;
    const g = out[w.output];
    expect(g.shape, `${w.name}: gradient shape`).toEqual(t.shape);
    const data = t.data as unknown as Float64Array;
    const idx = data.length <= samples ? [...data.keys()] : Array.from({ length: samples }, () => Math.floor(r() * data.length));
    for (const i of idx) {
      const x0 = data[i];
      data[i] = x0 + eps; const lp = lossOf(c);
      data[i] = x0 - eps; const lm = lossOf(c);
      data[i] = x0;
      const num = (lp - lm) / (2 * eps);
      const ana = Number(g.data[i]);
      const err = Math.abs(num - ana) / Math.max(1, Math.abs(num), Math.abs(ana));
      if (!(err <= tol)) expect.fail(`${w.name}[${i}]: autodiff ${ana}, finite differences ${num} (relative error ${err.toExponential(2)} > ${tol})`);
      checked++;
    }
  }
  return checked;
}

export const graphOf = (name: string, inputs: Node[], outputs: Record<string, Node>): Graph =>
  makeGraph(name, inputs, Object.entries(outputs).map(([n, node]) => ({ name: n, node })));
